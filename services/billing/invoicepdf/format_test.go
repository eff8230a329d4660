package invoicepdf

import (
	"math"
	"testing"

	"golang.org/x/text/language"

	"github.com/selfserve/selfserve/services/kit/locale"
)

func TestLookupCurrency(t *testing.T) {
	for code, want := range map[string]int{"EUR": 2, "USD": 2, "SEK": 2, "CNY": 2, "JPY": 0, "KRW": 0, "KWD": 3, "BHD": 3, "JOD": 3, "OMR": 3, "TND": 3, "LYD": 3, "IQD": 3} {
		c, err := lookupCurrency(code)
		if err != nil || c.code != code || c.exponent != want {
			t.Errorf("lookupCurrency(%q) = %+v, %v; want exponent %d", code, c, err, want)
		}
	}
	for _, code := range []string{"", "eur", "EU", "EURO", "E1R"} {
		if _, err := lookupCurrency(code); err == nil {
			t.Errorf("lookupCurrency(%q) succeeded", code)
		}
	}
}

func TestFormatMoney(t *testing.T) {
	eur, jpy, kwd := currency{"EUR", 2}, currency{"JPY", 0}, currency{"KWD", 3}
	for _, c := range []struct {
		minor int64
		cur   currency
		lang  language.Tag
		want  string
	}{
		{0, eur, locale.English, "EUR\u00a00.00"},
		{5, eur, locale.English, "EUR\u00a00.05"},
		{-5, eur, locale.English, "EUR\u00a0-0.05"},
		{123456789, eur, locale.English, "EUR\u00a01,234,567.89"},
		{123456789, eur, locale.French, "1\u00a0234\u00a0567,89\u00a0EUR"},
		{-123456, eur, locale.Swedish, "-1\u00a0234,56\u00a0EUR"},
		{123456, eur, locale.Chinese, "EUR\u00a01,234.56"},
		{100000, jpy, locale.English, "JPY\u00a0100,000"},
		{-999, jpy, locale.French, "-999\u00a0JPY"},
		{1, kwd, locale.English, "KWD\u00a00.001"},
		{1234567, kwd, locale.Swedish, "1\u00a0234,567\u00a0KWD"},
		{math.MinInt64, jpy, locale.English, "JPY\u00a0-9,223,372,036,854,775,808"},
	} {
		if got := formatMoney(c.minor, c.cur, c.lang); got != c.want {
			t.Errorf("formatMoney(%d, %s, %s) = %q, want %q", c.minor, c.cur.code, c.lang, got, c.want)
		}
	}
}

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
