package clock

import (
	"errors"
	"testing"
	"time"
)

func TestManual(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var saved time.Time
	m := NewManual(start, func(t time.Time) error { saved = t; return nil })
	if !m.Now().Equal(start) {
		t.Fatal("start")
	}
	now, err := m.Advance(48 * time.Hour)
	if err != nil || !now.Equal(start.Add(48*time.Hour)) || !saved.Equal(now) {
		t.Fatalf("advance: %v %v %v", now, saved, err)
	}
	if _, err := m.Advance(-time.Second); !errors.Is(err, ErrBackwards) {
		t.Fatal("went backwards")
	}
	if now, _ := m.AdvanceTo(start); !now.Equal(start.Add(48 * time.Hour)) {
		t.Fatal("AdvanceTo an earlier time moved the clock")
	}
	failing := NewManual(start, func(time.Time) error { return errors.New("disk full") })
	if _, err := failing.Advance(time.Hour); err == nil || !failing.Now().Equal(start) {
		t.Fatal("a move that could not be saved took effect")
	}
}

// TestManualSavesWithoutHoldingNow: a save runs while readers go on reading
// the clock (a store transaction in flight reads it while the save waits for
// the store), so a save that reads the clock itself finishes.
func TestManualSavesWithoutHoldingNow(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var m *Manual
	var during time.Time
	m = NewManual(start, func(time.Time) error { during = m.Now(); return nil })
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Advance(time.Hour)
		m.AdvanceTo(start.Add(2 * time.Hour))
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a save that reads the clock never finished")
	}
	if !during.Equal(start.Add(time.Hour)) || !m.Now().Equal(start.Add(2*time.Hour)) {
		t.Fatalf("read %v during the second save, clock at %v", during, m.Now())
	}
	// A move observed from another replica during a save is kept.
	m = NewManual(start, func(time.Time) error { m.Observe(start.Add(5 * time.Hour)); return nil })
	if now, _ := m.Advance(time.Hour); !now.Equal(start.Add(5 * time.Hour)) {
		t.Fatalf("observed move lost: %v", now)
	}
}
