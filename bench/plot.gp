# SPDX-License-Identifier: GPL-2.0
# Plot the bench:
#   gnuplot -e "dir='DATADIR'; out='FILE.png'; title='...'" bench/plot.gp
# DATADIR holds what bench/report.py wrote: rt-RUN.dat, rt-ratio-RUN.dat,
# stream-RUN.dat, mcast-RUN.dat, svc-call-RUN.dat and svc-signal-RUN.dat
# for the runs icount-smp2, icount-smp1 and wall: a header line, then one
# line per payload size (or fan-out), one column per mechanism, "?" where
# a point is missing.

set terminal pngcairo size 1500,1850 font ",10"
set output out
set datafile missing "?"
set grid
set logscale xy
set multiplot layout 4,2 title title font ",13"

ncols(f) = int(system("head -n 1 '".f."' 2>/dev/null | wc -w"))
points(f) = int(system("tail -n +2 '".f."' 2>/dev/null | tr ' ' '\\n' | grep -c '[0-9]'"))
sizes = 'set xtics ("8 B" 8, "64 B" 64, "512 B" 512, "4 KiB" 4096, "32 KiB" 32768, "256 KiB" 262144, "1 MiB" 1048576)'

# panel(file, title, xlabel, ylabel, key position)
panel(f, t, x, y, k) = sprintf("set title '%s'; set xlabel '%s'; set ylabel '%s'; set key %s box opaque font ',9'", t, x, y, k)
draw = 'if (points(f) > ncols(f)) { plot for [i=2:ncols(f)] f using 1:i with linespoints lw (i == 2 ? 4 : 2) pt (i == 2 ? 7 : i) title columnheader(i) } else { unset key; set label 1 "no data" at graph 0.45, 0.5; plot [1:2] [1:2] NaN notitle; unset label 1 }'

# Column i of a ratio file is the mechanism of column i + 1 elsewhere:
# the same line type, so the same colour and points.
draw_ratio = 'plot 1 with lines lt 1 lw 4 title "bus1", for [i=2:ncols(f)] f using 1:i with linespoints lt i lw 2 pt (i + 1) title columnheader(i)'

eval sizes
f = dir."/rt-icount-smp2.dat"
eval panel(f, "Round trip, icount, 2 vCPUs (cross-CPU): median", "payload", "us (1 us = 1000 instructions)", "top left")
eval draw

f = dir."/rt-ratio-icount-smp2.dat"
unset logscale y
set yrange [0:*]
eval panel(f, "Round trip, icount, 2 vCPUs: time relative to bus1 (above 1: bus1 is faster)", "payload", "median / median of bus1", "top left")
eval draw_ratio
set logscale y
set yrange [*:*]

f = dir."/rt-wall.dat"
eval panel(f, "Round trip, wall clock, TCG, 4 vCPUs (noisy): median", "payload", "us", "top left")
eval draw

f = dir."/stream-icount-smp2.dat"
eval panel(f, "One-way stream, icount, 2 vCPUs: throughput", "payload", "MiB/s of guest time", "bottom right")
eval draw

f = dir."/stream-icount-smp1.dat"
eval panel(f, "One-way stream, icount, 1 vCPU: throughput", "payload", "MiB/s of guest time", "bottom right")
eval draw

set xtics (1, 4, 16, 64)
f = dir."/mcast-icount-smp2.dat"
eval panel(f, "Multicast of 4 KiB to k receivers, icount, 2 vCPUs", "receivers k", "us per message to all", "top left")
eval draw

eval sizes
f = dir."/svc-call-icount-smp2.dat"
eval panel(f, "Service method call round trip, icount, 2 vCPUs: bus1 service bus and D-Bus", "payload (both ways)", "us", "top left")
eval draw

set xtics (1, 16, 64)
f = dir."/svc-signal-icount-smp2.dat"
eval panel(f, "Signal of 8 B until all k subscribers have it, icount, 2 vCPUs", "subscribers k", "us", "top left")
eval draw

unset multiplot
