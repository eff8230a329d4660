package names

import (
	"slices"
	"strings"
	"testing"
)

// splitMatch and splitFormat are Match and Format as first written, with
// strings.Split: the oracle of FuzzMatchAsSplit.
func splitMatch(name, pattern string) ([]string, bool) {
	ps := strings.Split(pattern, "/")
	ns := strings.Split(name, "/")
	if len(ps) != len(ns) {
		return nil, false
	}
	var ids []string
	for i, p := range ps {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if !ValidID(ns[i]) {
				return nil, false
			}
			ids = append(ids, ns[i])
		} else if p != ns[i] {
			return nil, false
		}
	}
	return ids, true
}

func splitFormat(pattern string, ids ...string) string {
	ps := strings.Split(pattern, "/")
	j := 0
	for i, p := range ps {
		if strings.HasPrefix(p, "{") && j < len(ids) {
			ps[i] = ids[j]
			j++
		}
	}
	return strings.Join(ps, "/")
}

// FuzzMatchAsSplit: Match and Format answer what the split-based forms
// answer, for any name and pattern and ids.
func FuzzMatchAsSplit(f *testing.F) {
	for _, p := range fuzzPatterns {
		f.Add("organizations/contoso/users/max", p, "a", "b")
	}
	f.Add("", "", "", "")
	f.Add("/", "{x}/", "x", "")
	f.Add("a//b", "a/{}/b", "", "y")
	f.Add("organizations/x/", "organizations/{organization}", "{", "}")
	f.Fuzz(func(t *testing.T, name, pattern, id1, id2 string) {
		got, ok := Match(name, pattern)
		want, wok := splitMatch(name, pattern)
		if ok != wok || !slices.Equal(got, want) {
			t.Fatalf("Match(%q, %q) = %q, %v; split gives %q, %v", name, pattern, got, ok, want, wok)
		}
		for _, ids := range [][]string{nil, {id1}, {id1, id2}} {
			if got, want := Format(pattern, ids...), splitFormat(pattern, ids...); got != want {
				t.Fatalf("Format(%q, %q) = %q; split gives %q", pattern, ids, got, want)
			}
		}
	})
}
