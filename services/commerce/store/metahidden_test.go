package store

import (
	"encoding/json"
	"testing"
)

// TestMetaHiddenReadsOnlyTheFlag: the list's cheap read of Hidden agrees
// with the whole decode, in both stored formats and with the flag set twice.
func TestMetaHiddenReadsOnlyTheFlag(t *testing.T) {
	for _, hidden := range []bool{false, true} {
		m := &Meta{Version: 7, Hidden: hidden, Undo: []byte{1, 2}, Pending: []Step{{Kind: "charge", Key: "k", Lines: []Line{{Type: 2, Description: "Produkt", Quantity: 2}}}}}
		v, err := encodeMeta(m)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := metaHidden(v); err != nil || got != hidden {
			t.Fatalf("wire: metaHidden = %v, %v; want %v", got, err, hidden)
		}
		js, _ := json.Marshal(m)
		if got, err := metaHidden(js); err != nil || got != hidden {
			t.Fatalf("json: metaHidden = %v, %v; want %v", got, err, hidden)
		}
	}
	if got, err := metaHidden(nil); err != nil || got {
		t.Fatalf("no meta: %v, %v", got, err)
	}
	// hidden = true, then hidden = false: the last one counts.
	twice := []byte{metaWire, 9 << 3, 1, 9 << 3, 0}
	if got, err := metaHidden(twice); err != nil || got {
		t.Fatalf("set twice: %v, %v", got, err)
	}
	if _, err := metaHidden([]byte{metaWire, 9 << 3}); err == nil {
		t.Fatal("a cut meta read as whole")
	}
}
