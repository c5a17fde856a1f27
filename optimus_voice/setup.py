"""ament_python package of the optimus_voice nodes, engines and CLI."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "optimus_voice"
NODES = ["capture", "asr", "emotion", "llm", "dialogue", "tts", "audio_out", "face"]
EXECUTABLES = [f"{n}_node = {PACKAGE}.nodes.{n}_node:main" for n in NODES] + [
    f"lifecycle_manager = {PACKAGE}.nodes.lifecycle_manager:main",
    f"optimus-voice = {PACKAGE}.tools.cli.main:main"]

setup(
    name=PACKAGE,
    version="0.1.0",
    package_dir={"": "src"},
    packages=find_packages("src"),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml", "requirements.txt", "requirements-models.txt", "requirements-dev.txt"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.xml") + glob("config/*.rviz")),
        (f"share/{PACKAGE}/models/emotion", glob("models/emotion/*.onnx") + glob("models/emotion/*.md")
         + glob("models/emotion/*.json") + glob("models/emotion/*.png")),
        (f"share/{PACKAGE}/models/voices", glob("models/voices/*.onnx") + glob("models/voices/*.md")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="optimus_voice maintainers",
    maintainer_email="optimus-voice@example.com",
    description="Speech interaction stack of a humanoid robot as ROS 2 lifecycle nodes.",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": EXECUTABLES,
    },
)
