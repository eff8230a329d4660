package bench

import (
	"testing"
	"time"
)

func TestBenchPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if p50, p99 := benchPercentile(ds, 0.50), benchPercentile(ds, 0.99); p50 != 50 || p99 != 99 {
		t.Errorf("p50 %v p99 %v, want 50 and 99", p50, p99)
	}
	if got := benchPercentile(nil, 0.5); got != 0 {
		t.Errorf("empty: %v", got)
	}
	if got := benchPercentile([]time.Duration{3 * time.Millisecond}, 0.99); got != 3 {
		t.Errorf("one value: %v", got)
	}
}
