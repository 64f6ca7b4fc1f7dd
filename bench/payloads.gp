# Draws bench/payloads.svg from the data malt_bench writes with --payload-data=FILE:
#   gnuplot -e "data='FILE'" bench/payloads.gp
set terminal svg size 720,440 font "sans,12" background "white" noenhanced
set output "bench/payloads.svg"
set title "Returning a result of N bytes from a worker (Malt.jl's payload set)"
set xlabel "result size (bytes)"
set ylabel "time (ms)"
set logscale xy
set grid
set key top left
plot data using 1:3 with linespoints lw 2 pt 7 title "malt: remote_call_fetch(w, make_bytes, N)", \
     data using 1:2 with linespoints lw 2 pt 5 title "raw socketpair: 4-byte request, N-byte reply"
