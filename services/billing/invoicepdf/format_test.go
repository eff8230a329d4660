package invoicepdf

import (
	"testing"

	"golang.org/x/text/language"

	"github.com/selfserve/selfserve/services/kit/locale"
)

func TestFormatDates(t *testing.T) {
	start, end := ts("2026-11-21T23:59:00Z"), ts("2027-01-05T00:00:00Z")
	for _, c := range []struct {
		lang       language.Tag
		date, span string
	}{
		{locale.English, "2026-11-21", "2026-11-21 – 2027-01-05"},
		{locale.French, "21/11/2026", "21/11/2026 – 05/01/2027"},
		{locale.Swedish, "2026-11-21", "2026-11-21 – 2027-01-05"},
		{locale.Chinese, "2026-11-21", "2026-11-21 – 2027-01-05"},
	} {
		if got := formatDate(start, c.lang); got != c.date {
			t.Errorf("formatDate in %s = %q, want %q", c.lang, got, c.date)
		}
		if got := formatPeriod(start, end, c.lang); got != c.span {
			t.Errorf("formatPeriod in %s = %q, want %q", c.lang, got, c.span)
		}
	}
	if got := formatDate(nil, locale.English); got != "" {
		t.Errorf("formatDate(nil) = %q", got)
	}
	if got := formatPeriod(nil, end, locale.English); got != "2027-01-05" {
		t.Errorf("formatPeriod without start = %q", got)
	}
}
