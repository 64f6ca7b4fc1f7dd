# Checks what a file that includes <malt/malt.hpp> compiles: not Boost.Serialization's
# archives (only <malt/serialization.hpp> brings them) and not a parallel map's machinery
# (compiled in the library). README, "Compile cost".
#   cmake -DCXX=<compiler> -DINCLUDES=<dir|dir> -DWORK_DIR=<dir> -P header_weight.cmake

if(NOT CXX OR NOT INCLUDES OR NOT WORK_DIR)
  message(FATAL_ERROR "usage: cmake -DCXX=<compiler> -DINCLUDES=<dir|dir> -DWORK_DIR=<dir> -P header_weight.cmake")
endif()
string(REPLACE "|" ";" INCLUDES "${INCLUDES}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(headers_of header out)
  set(source "${WORK_DIR}/includes_${out}.cpp")
  file(WRITE "${source}" "#include <${header}>\n")
  set(flags -std=c++20 -M)
  foreach(dir IN LISTS INCLUDES)
    list(APPEND flags "-I${dir}")
  endforeach()
  execute_process(COMMAND "${CXX}" ${flags} "${source}" OUTPUT_VARIABLE deps ERROR_VARIABLE errors RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${CXX} could not read <${header}>:\n${errors}")
  endif()
  set(${out} "${deps}" PARENT_SCOPE)
endfunction()

headers_of(malt/malt.hpp light)
if(NOT light MATCHES "malt/pmap\\.hpp")
  message(FATAL_ERROR "the dependency list of <malt/malt.hpp> does not list malt/pmap.hpp: wrong include path?")
endif()
foreach(heavy "boost/archive/" "boost/serialization/" "boost/asio/experimental/parallel_group")
  if(light MATCHES "${heavy}")
    message(FATAL_ERROR "<malt/malt.hpp> includes ${heavy}, which it keeps out of a user's file")
  endif()
endforeach()

headers_of(malt/serialization.hpp archive)
if(NOT archive MATCHES "boost/archive/binary_oarchive\\.hpp")
  message(FATAL_ERROR "<malt/serialization.hpp> does not bring the binary archive")
endif()
message(STATUS "<malt/malt.hpp> leaves the archives and the map machinery out; <malt/serialization.hpp> brings the archive")
