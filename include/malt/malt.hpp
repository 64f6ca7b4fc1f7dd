#ifndef MALT_MALT_HPP
#define MALT_MALT_HPP

#include <malt/builtins.hpp>
#include <malt/call.hpp>
#include <malt/this_call.hpp>
#include <malt/error.hpp>
#include <malt/eval.hpp>
#include <malt/value.hpp>
#include <malt/remote.hpp>
#include <malt/run.hpp>
#include <malt/worker.hpp>
#include <malt/worker_main.hpp>
#include <malt/worker_options.hpp>
#include <malt/worker_pool.hpp>
#include <malt/pmap.hpp>
#include <malt/version.hpp>

#endif
