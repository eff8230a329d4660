// Package clock is the business clock of a service. Domain code takes time
// from a Clock, never from time.Now, so a whole lifecycle runs in a test in
// milliseconds and an operator can move time with POST /v1/clock:advance.
package clock

import (
	"errors"
	"sync"
	"time"
)

// Clock tells the business time.
type Clock interface {
	Now() time.Time
}

// System is wall-clock time, in UTC.
type System struct{}

// Now returns the current UTC time.
func (System) Now() time.Time { return time.Now().UTC() }

// ErrBackwards is returned when a manual clock is asked to go back in time.
var ErrBackwards = errors.New("a clock never goes back in time")

// Manual is a clock that moves only when told. Its position is saved through
// persist before a move takes effect, so a restarted service never goes back
// in time.
//
// A move holds its own lock (moves go one at a time) and never the lock Now
// takes while it saves: persist writes to the store, and a store transaction
// in flight may be reading the clock, so holding both would let the two wait
// on each other.
type Manual struct {
	moving  sync.Mutex   // one move at a time
	mu      sync.RWMutex // guards now
	now     time.Time
	persist func(time.Time) error
}

// NewManual returns a manual clock at start; persist may be nil.
func NewManual(start time.Time, persist func(time.Time) error) *Manual {
	return &Manual{now: start.UTC(), persist: persist}
}

// Now returns the clock's position.
func (m *Manual) Now() time.Time {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.now
}

// Advance moves the clock forward by d.
func (m *Manual) Advance(d time.Duration) (time.Time, error) {
	if d < 0 {
		return m.Now(), ErrBackwards
	}
	m.moving.Lock()
	defer m.moving.Unlock()
	return m.set(m.Now().Add(d))
}

// AdvanceTo moves the clock to t when t is later; an earlier t moves nothing,
// so a repeated call is harmless.
func (m *Manual) AdvanceTo(t time.Time) (time.Time, error) {
	m.moving.Lock()
	defer m.moving.Unlock()
	if now := m.Now(); !t.After(now) {
		return now, nil
	}
	return m.set(t.UTC())
}

// set saves t, then moves the clock there (unless another replica's move,
// observed meanwhile, already took it further). The caller holds moving.
func (m *Manual) set(t time.Time) (time.Time, error) {
	if m.persist != nil {
		if err := m.persist(t); err != nil {
			return m.Now(), err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if t.After(m.now) {
		m.now = t
	}
	return m.now, nil
}

// Observe moves the clock to t when t is later, without saving it: the
// position another replica of the service saved.
func (m *Manual) Observe(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t.After(m.now) {
		m.now = t.UTC()
	}
}
