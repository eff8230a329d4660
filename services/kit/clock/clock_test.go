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
