# Configures a parent project that adds the library with add_subdirectory, and checks
# that the library left the parent's choices alone: no build type forced on it, no install
# rules of its own (installing the parent installs nothing of the library), no tests,
# examples or benchmarks. Nothing is compiled.
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} -S ${PARENT_SOURCE} -B ${WORK_DIR}/build -G Ninja -DMALT_SOURCE=${MALT_SOURCE}
                COMMAND_ERROR_IS_FATAL ANY OUTPUT_QUIET)
file(STRINGS ${WORK_DIR}/build/CMakeCache.txt build_type REGEX "^CMAKE_BUILD_TYPE:")
if(NOT build_type STREQUAL "CMAKE_BUILD_TYPE:STRING=")
  message(FATAL_ERROR "the parent's build type was changed: ${build_type}")
endif()
foreach(target malt_tour malt_bench unit_tests)
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build --target help OUTPUT_VARIABLE targets)
  if(targets MATCHES "${target}")
    message(FATAL_ERROR "the library added '${target}' to the parent's build")
  endif()
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} --install ${WORK_DIR}/build --prefix ${WORK_DIR}/prefix
                RESULT_VARIABLE installed OUTPUT_VARIABLE said ERROR_VARIABLE said)
file(GLOB_RECURSE files LIST_DIRECTORIES false ${WORK_DIR}/prefix/*)
if(NOT installed EQUAL 0 OR files)
  message(FATAL_ERROR "installing the parent installed the library's files (${installed}): ${files} ${said}")
endif()
message(STATUS "add_subdirectory: build type left empty, nothing of the library installed or added")
