"""Launch the optimus_voice graph on a robot: the nodes and the lifecycle manager that brings them up.

    ros2 launch optimus_voice voice.launch.py mic_source:=device audio_out_topic:=/robot/speaker/audio \
        face_topic:=/robot/face/command use_audio_out:=false

What runs, with which parameters, remaps and namespace, comes from optimus_voice.contract.graph.plan(), the same
declaration `optimus-voice up` starts. Every process is respawned when it dies; the lifecycle manager (not event
handlers here) configures and activates the nodes in order, the microphone last, and brings a respawned node back
to active however the old process died.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from optimus_voice.contract.graph import ARGS, PACKAGE, plan


def launch_nodes(context):
    """The processes of contract.graph.plan() for the launch arguments' values."""
    args = {a.name: LaunchConfiguration(a.name).perform(context) for a in ARGS}
    config_dir = args["config_dir"] or os.path.join(get_package_share_directory(PACKAGE), "config")
    return [Node(package=PACKAGE, executable=item.spec.executable, name=item.spec.name, namespace=item.namespace,
                 parameters=[os.path.join(config_dir, item.spec.config), item.params],
                 remappings=list(item.remaps.items()), respawn=True, respawn_delay=2.0, output="screen",
                 emulate_tty=True)
            for item in plan(args)]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        *(DeclareLaunchArgument(a.name, default_value=a.default, description=a.description,
                                **({"choices": list(a.choices)} if a.choices else {})) for a in ARGS),
        OpaqueFunction(function=launch_nodes),
    ])
