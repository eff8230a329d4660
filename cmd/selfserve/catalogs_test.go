package main

import (
	"slices"
	"testing"

	"github.com/selfserve/selfserve/services/kit/locale"
)

// TestEveryCatalogIsComplete enumerates every message catalog linked into
// selfserve: no text may lack a translation in any of the four languages.
func TestEveryCatalogIsComplete(t *testing.T) {
	var names []string
	for _, c := range locale.Catalogs() {
		names = append(names, c.Name())
		if len(c.Keys()) == 0 {
			t.Errorf("catalog %s is empty", c.Name())
		}
		for _, m := range c.Missing() {
			t.Errorf("catalog %s lacks %s", c.Name(), m)
		}
	}
	for _, want := range []string{"errs", "terms", "audit", "invoicepdf"} {
		if !slices.Contains(names, want) {
			t.Errorf("catalog %s is not linked in (have %v)", want, names)
		}
	}
}
