"""Launch the optimus_voice graph on a robot: every node a lifecycle node, configured and activated.

    ros2 launch optimus_voice voice.launch.py mic_source:=device audio_out_topic:=/robot/speaker/audio \
        face_topic:=/robot/face/command use_audio_out:=false

The graph (executables, config files, remaps, parameters set by arguments) comes from optimus_voice.contract.graph, the
same declaration `optimus-voice up` starts. Each node is configured when its process starts (and again when it is
respawned after a crash), then activated once it reaches 'inactive'.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessStart
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.parameter_descriptions import ParameterValue
from lifecycle_msgs.msg import Transition
from optimus_voice.contract.graph import ARG_TYPES, ARGS, NODES, PACKAGE


def generate_launch_description() -> LaunchDescription:
    config_default = os.path.join(get_package_share_directory(PACKAGE), "config")
    entities = [
        DeclareLaunchArgument(a.name, default_value=a.default or (config_default if a.name == "config_dir" else ""),
                              description=a.description)
        for a in ARGS
    ]
    for spec in NODES:
        condition = IfCondition(LaunchConfiguration(spec.enabled_by)) if spec.enabled_by else None
        overrides = {param: ParameterValue(LaunchConfiguration(arg), value_type=ARG_TYPES[arg])
                     for param, arg in spec.param_args.items()}
        node = LifecycleNode(
            package=PACKAGE, executable=spec.executable, name=spec.name, namespace="", output="screen",
            parameters=[PathJoinSubstitution([LaunchConfiguration("config_dir"), spec.config]), overrides],
            remappings=[(topic, LaunchConfiguration(arg)) for topic, arg in spec.remap_args.items()],
            respawn=True, respawn_delay=2.0, condition=condition,
        )
        configure = EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                                transition_id=Transition.TRANSITION_CONFIGURE))
        activate = EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                               transition_id=Transition.TRANSITION_ACTIVATE))
        entities += [
            node,
            RegisterEventHandler(OnProcessStart(target_action=node, on_start=[configure]), condition=condition),
            RegisterEventHandler(OnStateTransition(target_lifecycle_node=node, start_state="configuring",
                                                   goal_state="inactive", entities=[activate]),
                                 condition=condition),
        ]
    return LaunchDescription(entities)
