# Passed as -DCMAKE_PROJECT_INCLUDE when building against the ROS 2 PyPI wheels.
# The wheels' exported CMake targets name include directories of the machine that built the wheels; they do not
# exist here and make CMake's generate step fail. After every find_package, drop such paths from imported targets.
# On a normal ROS 2 install every path exists and this hook changes nothing.
function(_ov_drop_missing_include_dirs)
  get_property(_targets DIRECTORY PROPERTY IMPORTED_TARGETS)
  foreach(_t IN LISTS _targets)
    get_target_property(_dirs ${_t} INTERFACE_INCLUDE_DIRECTORIES)
    if(_dirs)
      set(_kept "")
      foreach(_d IN LISTS _dirs)
        if(_d MATCHES "^\\$<" OR EXISTS "${_d}")
          list(APPEND _kept "${_d}")
        endif()
      endforeach()
      set_target_properties(${_t} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_kept}")
    endif()
  endforeach()
endfunction()

# Run once the project's own CMakeLists.txt has been read, before generation.
cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _ov_drop_missing_include_dirs)
