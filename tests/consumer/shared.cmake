# Builds the library as a shared library (BUILD_SHARED_LIBS=ON, nothing else), installs
# it into a fresh prefix, and builds and runs programs of another project against it.
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} -S ${MALT_SOURCE} -B ${WORK_DIR}/malt -G Ninja -DBUILD_SHARED_LIBS=ON
                        -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O1" -DMALT_BUILD_TESTS=OFF
                        -DMALT_BUILD_EXAMPLES=OFF -DMALT_BUILD_BENCH=OFF
                COMMAND_ERROR_IS_FATAL ANY OUTPUT_QUIET)
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/malt --parallel 2 COMMAND_ERROR_IS_FATAL ANY OUTPUT_QUIET)
execute_process(COMMAND ${CMAKE_COMMAND} --install ${WORK_DIR}/malt --prefix ${WORK_DIR}/prefix
                COMMAND_ERROR_IS_FATAL ANY OUTPUT_QUIET)
file(GLOB shared_library ${WORK_DIR}/prefix/lib/libmalt.so.*)
if(NOT shared_library)
  message(FATAL_ERROR "no libmalt.so was installed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE} -B ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix
                        -DCONSUMER_KIND=shared
                COMMAND_ERROR_IS_FATAL ANY OUTPUT_QUIET)
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build --parallel 2 COMMAND_ERROR_IS_FATAL ANY OUTPUT_QUIET)
execute_process(COMMAND ${WORK_DIR}/build/consumer COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${WORK_DIR}/build/consumer_with_c_lua COMMAND_ERROR_IS_FATAL ANY)
