package main

import (
	"math"
	"sort"
)

// Dist is a set of samples and its summary.
type Dist struct {
	N        int       `json:"n"`
	Failures int       `json:"failures"`
	Median   float64   `json:"median"`
	P95      float64   `json:"p95"`
	Min      float64   `json:"min"`
	Max      float64   `json:"max"`
	Mean     float64   `json:"mean"`
	Samples  []float64 `json:"samples"`
}

// newDist summarises samples; p95 is the nearest-rank percentile.
func newDist(samples []float64, failures int) *Dist {
	d := &Dist{N: len(samples), Failures: failures, Samples: samples}
	if len(samples) == 0 {
		return d
	}
	s := append([]float64(nil), samples...)
	sort.Float64s(s)
	d.Median = quantile(s, 0.5)
	d.P95 = s[int(math.Ceil(0.95*float64(len(s))))-1]
	d.Min, d.Max = s[0], s[len(s)-1]
	for _, v := range s {
		d.Mean += v
	}
	d.Mean /= float64(len(s))
	return d
}

// quantile interpolates linearly between the sorted samples.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}

// ratio is a/b of the medians, 0 when either is missing.
func ratio(a, b *Dist) float64 {
	if a == nil || b == nil || a.N == 0 || b.N == 0 || b.Median == 0 {
		return 0
	}
	return a.Median / b.Median
}

func ms(v float64) float64 { return v / 1e6 }
