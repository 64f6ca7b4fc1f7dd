// Asio's compiled part, once for the library and everything that links it.
#include <boost/asio/impl/src.hpp>
