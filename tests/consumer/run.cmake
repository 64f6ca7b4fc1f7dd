# Installs the built library into a fresh prefix, then builds and runs a project that
# finds it with find_package(malt).
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${MALT_BUILD_DIR} --prefix ${WORK_DIR}/prefix
                COMMAND_ERROR_IS_FATAL ANY OUTPUT_QUIET)
set(flags "")
if(SANITIZE)  # a sanitized library needs a sanitized program
  set(flags "-DCMAKE_CXX_FLAGS=-fsanitize=${SANITIZE}" "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${SANITIZE}")
endif()
# The library's compiler: a sanitized program needs the same sanitizer runtime.
execute_process(COMMAND ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE} -B ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix
                        -DCMAKE_CXX_COMPILER=${CXX} ${flags}
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
                        -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCONSUMER_KIND=static
                COMMAND_ERROR_IS_FATAL ANY OUTPUT_QUIET)
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build-static COMMAND_ERROR_IS_FATAL ANY OUTPUT_QUIET)
execute_process(COMMAND ${WORK_DIR}/build-static/consumer_static COMMAND_ERROR_IS_FATAL ANY)

# Without CMake: the compiler and pkg-config's malt.pc.
file(GLOB pc_file ${WORK_DIR}/prefix/lib*/pkgconfig/malt.pc ${WORK_DIR}/prefix/lib/*/pkgconfig/malt.pc)
if(NOT pc_file)
  message(FATAL_ERROR "malt.pc was not installed")
endif()
get_filename_component(pc_dir ${pc_file} DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${pc_dir})
execute_process(COMMAND pkg-config --cflags --libs malt OUTPUT_VARIABLE pc_flags OUTPUT_STRIP_TRAILING_WHITESPACE
                COMMAND_ERROR_IS_FATAL ANY)
separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
execute_process(COMMAND c++ -O1 ${CONSUMER_SOURCE}/main.cpp -o ${WORK_DIR}/consumer_pkg_config ${pc_flags}
                COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${WORK_DIR}/consumer_pkg_config COMMAND_ERROR_IS_FATAL ANY)
