# Installs the built library into a fresh prefix, then builds and runs a project that
# finds it with find_package(malt).
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${MALT_BUILD_DIR} --prefix ${WORK_DIR}/prefix
                COMMAND_ERROR_IS_FATAL ANY OUTPUT_QUIET)
set(flags "")
if(SANITIZE)  # a sanitized library needs a sanitized program
  set(flags "-DCMAKE_CXX_FLAGS=-fsanitize=${SANITIZE}" "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${SANITIZE}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE} -B ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix
                        ${flags}
                COMMAND_ERROR_IS_FATAL ANY OUTPUT_QUIET)
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build --parallel 2 COMMAND_ERROR_IS_FATAL ANY OUTPUT_QUIET)
execute_process(COMMAND ${WORK_DIR}/build/consumer COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${WORK_DIR}/build/consumer_with_c_lua COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${WORK_DIR}/build/consumer_with_deprecated_asio COMMAND_ERROR_IS_FATAL ANY)
# Static runtimes: a sanitizer's runtime is a shared library that needs the shared ones.
if(SANITIZE)
  message(STATUS "static consumers skipped: a sanitized program cannot link its runtimes statically")
  return()
endif()
execute_process(COMMAND ${WORK_DIR}/build/consumer_static_libstdcxx COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE} -B ${WORK_DIR}/build-static
                        -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCONSUMER_STATIC=ON
                COMMAND_ERROR_IS_FATAL ANY OUTPUT_QUIET)
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build-static COMMAND_ERROR_IS_FATAL ANY OUTPUT_QUIET)
execute_process(COMMAND ${WORK_DIR}/build-static/consumer_static COMMAND_ERROR_IS_FATAL ANY)
