package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// svg draws the rows marked Plot (start latencies) as box plots with every
// sample on top, on one shared logarithmic millisecond axis.
func (r *Results) svg() string {
	type series struct {
		label string
		d     *Dist
		color string
	}
	var ss []series
	for _, s := range r.Sections {
		for _, row := range s.Rows {
			if !row.Plot {
				continue
			}
			if row.Urunc != nil && row.Urunc.N > 0 {
				ss = append(ss, series{fmt.Sprintf("%s. urunc %s", s.Key, row.Name), row.Urunc, "#c0392b"})
			}
			if row.Runc != nil && row.Runc.N > 0 {
				ss = append(ss, series{fmt.Sprintf("%s. runc %s", s.Key, row.Name), row.Runc, "#2471a3"})
			}
		}
	}
	const left, right, top, rowH, width = 330.0, 30.0, 50.0, 56.0, 1000.0
	height := top + rowH*float64(len(ss)) + 60
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="24" font-size="15">Start latency, urunc vs runc (ms, log scale; box = quartiles, whiskers = min/max, dots = runs)</text>`+"\n", 10.0)
	if len(ss) == 0 {
		b.WriteString(`<text x="10" y="60">no start-latency samples in this run</text></svg>` + "\n")
		return b.String()
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		lo, hi = math.Min(lo, s.d.Min), math.Max(hi, s.d.Max)
	}
	lo = math.Pow(10, math.Floor(math.Log10(math.Max(lo, 0.1))))
	hi = math.Pow(10, math.Ceil(math.Log10(math.Max(hi, lo*10))))
	x := func(v float64) float64 {
		return left + (width-left-right)*(math.Log10(math.Max(v, lo))-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))
	}
	axisY := top + rowH*float64(len(ss))
	for dec := lo; dec <= hi*1.001; dec *= 10 {
		for _, m := range []float64{1, 2, 5} {
			v := dec * m
			if v > hi*1.001 {
				break
			}
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#ddd"/>`+"\n", x(v), top-10, x(v), axisY)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%g</text>`+"\n", x(v), axisY+16, v)
		}
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">milliseconds</text>`+"\n", (left+width-right)/2, axisY+36)
	for i, s := range ss {
		y := top + rowH*float64(i) + rowH/2
		sorted := sortedCopy(s.d.Samples)
		q1, q3 := quantile(sorted, 0.25), quantile(sorted, 0.75)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%s (n=%d)</text>`+"\n", left-10, y+4, escape(s.label), s.d.N)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#555"/>`+"\n", x(s.d.Min), y, x(s.d.Max), y)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="20" fill="%s" fill-opacity="0.2" stroke="%s"/>`+"\n",
			x(q1), y-10, math.Max(x(q3)-x(q1), 1), s.color, s.color)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/>`+"\n", x(s.d.Median), y-12, x(s.d.Median), y+12, s.color)
		for j, v := range s.d.Samples {
			jit := float64((j*37)%17-8) * 1.1
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.2" fill="%s" fill-opacity="0.7"/>`+"\n", x(v), y+jit, s.color)
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func sortedCopy(v []float64) []float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
