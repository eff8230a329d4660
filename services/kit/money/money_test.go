package money

import (
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/language"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		code    string
		exp     int
		wantErr error
	}{
		{"JPY", 0, nil},
		{"KRW", 0, nil},
		{"ISK", 0, nil},
		{"XOF", 0, nil},
		{"EUR", 2, nil},
		{"USD", 2, nil},
		{"SEK", 2, nil},
		{"CNY", 2, nil},
		{"KWD", 3, nil},
		{"BHD", 3, nil},
		{"TND", 3, nil},
		{"CLF", 4, nil},
		{"XYZ", 0, ErrUnknownCurrency},
		{"HRK", 0, ErrUnknownCurrency}, // replaced by EUR in 2023
		{"eur", 0, ErrMalformedCurrency},
		{"EU", 0, ErrMalformedCurrency},
		{"EURO", 0, ErrMalformedCurrency},
		{"", 0, ErrMalformedCurrency},
		{"E1R", 0, ErrMalformedCurrency},
	}
	for _, tt := range tests {
		cur, err := Lookup(tt.code)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Lookup(%q) error = %v, want %v", tt.code, err, tt.wantErr)
			}
			continue
		}
		if err != nil || cur != (Currency{Code: tt.code, Exponent: tt.exp}) {
			t.Errorf("Lookup(%q) = %+v, %v, want exponent %d", tt.code, cur, err, tt.exp)
		}
	}
}

// Every currency of the markets the product sells in must be known.
func TestLookupCoversMarkets(t *testing.T) {
	codes := []string{
		"EUR", "BGN", "CZK", "DKK", "HUF", "PLN", "RON", "SEK", // EU
		"NOK", "ISK", // Nordics
		"GBP", "USD", "CAD", "AUD", "NZD", "CHF", "JPY", "CNY", "HKD", "SGD",
		"INR", "KRW", "BRL", "MXN", "ZAR", "AED", "SAR",
		"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND",
	}
	for _, c := range codes {
		if _, err := Lookup(c); err != nil {
			t.Errorf("Lookup(%q): %v", c, err)
		}
	}
}

func TestCurrencyTableHasNoDuplicates(t *testing.T) {
	n := 0
	for _, codes := range byExponent {
		n += len(strings.Fields(codes))
	}
	if n != len(exponents) {
		t.Errorf("%d codes listed, %d distinct: a code appears under two exponents", n, len(exponents))
	}
}

func TestAmountString(t *testing.T) {
	tests := []struct {
		a    Amount
		want string
	}{
		{Amount{1250, "EUR"}, "12.50 EUR"},
		{Amount{5, "EUR"}, "0.05 EUR"},
		{Amount{0, "EUR"}, "0.00 EUR"},
		{Amount{-300, "USD"}, "-3.00 USD"},
		{Amount{-5, "USD"}, "-0.05 USD"},
		{Amount{1250, "JPY"}, "1250 JPY"},
		{Amount{-1250, "JPY"}, "-1250 JPY"},
		{Amount{1250, "KWD"}, "1.250 KWD"},
		{Amount{7, "KWD"}, "0.007 KWD"},
		{Amount{math.MinInt64, "USD"}, "-92233720368547758.08 USD"},
		{Amount{1250, "ZZZ"}, "1250 ZZZ"},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.a, got, tt.want)
		}
	}
}

func TestAmountAddNeg(t *testing.T) {
	sum, err := Amount{150, "EUR"}.Add(Amount{-200, "EUR"})
	if err != nil || sum != (Amount{-50, "EUR"}) {
		t.Errorf("Add = %v, %v, want -0.50 EUR", sum, err)
	}
	if _, err := (Amount{1, "EUR"}).Add(Amount{1, "USD"}); !errors.Is(err, ErrCurrencyMismatch) {
		t.Errorf("EUR + USD error = %v, want ErrCurrencyMismatch", err)
	}
	if _, err := (Amount{math.MaxInt64, "EUR"}).Add(Amount{1, "EUR"}); !errors.Is(err, ErrOverflow) {
		t.Errorf("MaxInt64 + 1 error = %v, want ErrOverflow", err)
	}
	if _, err := (Amount{math.MinInt64, "EUR"}).Add(Amount{-1, "EUR"}); !errors.Is(err, ErrOverflow) {
		t.Errorf("MinInt64 - 1 error = %v, want ErrOverflow", err)
	}
	if got, err := (Amount{math.MinInt64 + 1, "EUR"}).Add(Amount{-1, "EUR"}); err != nil || got.Minor != math.MinInt64 {
		t.Errorf("(MinInt64+1) - 1 = %v, %v, want MinInt64", got, err)
	}
	if got, err := (Amount{300, "USD"}).Neg(); err != nil || got != (Amount{-300, "USD"}) {
		t.Errorf("Neg = %v, %v", got, err)
	}
	if _, err := (Amount{math.MinInt64, "USD"}).Neg(); !errors.Is(err, ErrOverflow) {
		t.Errorf("Neg(MinInt64) error = %v, want ErrOverflow", err)
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name    string
		total   int64
		weights []int64
		want    []int64
	}{
		{"thirds", 100, []int64{1, 1, 1}, []int64{34, 33, 33}},
		{"negative thirds", -100, []int64{1, 1, 1}, []int64{-34, -33, -33}},
		{"zero weights get nothing", 100, []int64{0, 1, 0, 1, 0}, []int64{0, 50, 0, 50, 0}},
		{"zero weights never take the leftover", 101, []int64{0, 1, 0, 1}, []int64{0, 51, 0, 50}},
		{"single weight", 12345, []int64{7}, []int64{12345}},
		{"single negative", -12345, []int64{7}, []int64{-12345}},
		{"zero total", 0, []int64{3, 5}, []int64{0, 0}},
		{"one unit over many", 1, []int64{1, 1, 1, 1, 1, 1, 1}, []int64{1, 0, 0, 0, 0, 0, 0}},
		{"minus one unit over many", -1, []int64{1, 1, 1, 1}, []int64{-1, 0, 0, 0}},
		{"largest remainder wins over index", 10, []int64{1, 2}, []int64{3, 7}}, // 3.33, 6.67
		{"two leftovers by remainder", 10, []int64{1, 1, 1, 1, 1, 1, 1}, []int64{2, 2, 2, 1, 1, 1, 1}},
		{"proportional", 1000, []int64{1, 3}, []int64{250, 750}},
		{"1e15 over huge weights", 1_000_000_000_000_000, []int64{1e12, 1e12, 1e12},
			[]int64{333_333_333_333_334, 333_333_333_333_333, 333_333_333_333_333}},
		{"1e15 over uneven huge weights", 1_000_000_000_000_000, []int64{999_999_999_999, 1},
			[]int64{999_999_999_999_000, 1000}},
		{"max int64 total", math.MaxInt64, []int64{1, 1}, []int64{4611686018427387904, 4611686018427387903}},
		{"min int64 total", math.MinInt64, []int64{1, 1}, []int64{-4611686018427387904, -4611686018427387904}},
		{"min int64 whole", math.MinInt64, []int64{0, 5}, []int64{0, math.MinInt64}},
		{"max int64 weights", 7, []int64{math.MaxInt64, math.MaxInt64}, []int64{4, 3}},
		{"empty", 0, []int64{}, []int64{}},
	}
	for _, tt := range tests {
		got, err := Split(tt.total, tt.weights)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: Split(%d, %v) = %v, %v, want %v", tt.name, tt.total, tt.weights, got, err, tt.want)
		}
	}
}

func TestSplitErrors(t *testing.T) {
	tests := []struct {
		name    string
		total   int64
		weights []int64
	}{
		{"all zero", 100, []int64{0, 0}},
		{"all zero, zero total", 0, []int64{0}},
		{"negative weight", 100, []int64{1, -1, 2}},
		{"no weights, money to place", 5, nil},
		{"weights past 2^64", 1, []int64{math.MaxInt64, math.MaxInt64, math.MaxInt64}},
	}
	for _, tt := range tests {
		if got, err := Split(tt.total, tt.weights); !errors.Is(err, ErrInvalidSplit) {
			t.Errorf("%s: Split(%d, %v) = %v, %v, want ErrInvalidSplit", tt.name, tt.total, tt.weights, got, err)
		}
	}
}

// Every part is within one unit of its exact share, zero weights get zero,
// and the parts sum to the total.
func TestSplitProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(4217, 1))
	for c := 0; c < 5000; c++ {
		var total int64
		switch c % 3 {
		case 0:
			total = r.Int64N(2_000_000_000_000_001) - 1_000_000_000_000_000
		case 1:
			total = r.Int64N(2001) - 1000
		default:
			total = r.Int64N(21) - 10
		}
		weights := make([]int64, 1+r.IntN(40))
		for i := range weights {
			switch r.IntN(4) {
			case 0: // zero
			case 1:
				weights[i] = 1 + r.Int64N(10)
			default:
				weights[i] = r.Int64N(1_000_000_000_001)
			}
		}
		weights[r.IntN(len(weights))] = 1 + r.Int64N(1_000_000_000_000)

		parts, err := Split(total, weights)
		if err != nil {
			t.Fatalf("Split(%d, %v): %v", total, weights, err)
		}
		var wsum, psum big.Int
		for _, w := range weights {
			wsum.Add(&wsum, big.NewInt(w))
		}
		for i, p := range parts {
			psum.Add(&psum, big.NewInt(p))
			if weights[i] == 0 && p != 0 {
				t.Fatalf("Split(%d, %v): zero weight %d got %d", total, weights, i, p)
			}
			exact := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(total), big.NewInt(weights[i])), &wsum)
			diff := new(big.Rat).Sub(new(big.Rat).SetInt64(p), exact)
			if diff.Abs(diff).Cmp(big.NewRat(1, 1)) >= 0 {
				t.Fatalf("Split(%d, %v): part %d = %d, exact %s", total, weights, i, p, exact.FloatString(3))
			}
		}
		if psum.Cmp(big.NewInt(total)) != 0 {
			t.Fatalf("Split(%d, %v) = %v, sums to %s", total, weights, parts, psum.String())
		}
	}
}

func TestProrate(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name        string
		amount      int64
		part, whole time.Duration
		want        int64
	}{
		{"nothing used", 3000, 0, 30 * day, 0},
		{"all used", 3000, 30 * day, 30 * day, 3000},
		{"one day of thirty", 3000, day, 30 * day, 100},
		{"a third", 1000, 10 * day, 30 * day, 333},
		{"two thirds", 1000, 20 * day, 30 * day, 667},
		{"negative", -1000, 10 * day, 30 * day, -333},
		{"JPY one second", 1200, time.Second, 3 * time.Second, 400},
		{"half tie, smaller part first", 2, time.Second, 4 * time.Second, 1},
		{"half tie, larger part is the complement", 2, 3 * time.Second, 4 * time.Second, 1},
		{"exact half, odd amount", 1, time.Second, 2 * time.Second, 1},
		{"year of 1e15", 1_000_000_000_000_000, 365*day - time.Second, 365 * day, 999_999_968_290_208},
	}
	for _, tt := range tests {
		got, err := Prorate(tt.amount, tt.part, tt.whole)
		if err != nil || got != tt.want {
			t.Errorf("%s: Prorate(%d, %v, %v) = %d, %v, want %d", tt.name, tt.amount, tt.part, tt.whole, got, err, tt.want)
		}
	}
}

func TestProrateErrors(t *testing.T) {
	tests := []struct {
		part, whole time.Duration
	}{
		{time.Second, 0},
		{0, 0},
		{0, -time.Second},
		{-time.Second, time.Hour},
		{time.Hour + time.Second, time.Hour},
	}
	for _, tt := range tests {
		if got, err := Prorate(100, tt.part, tt.whole); !errors.Is(err, ErrInvalidPeriod) {
			t.Errorf("Prorate(100, %v, %v) = %d, %v, want ErrInvalidPeriod", tt.part, tt.whole, got, err)
		}
	}
}

// The share of the used part and the share of the rest make the whole amount,
// whatever the amount and however odd the period. The one exception (an exact
// half of an odd amount) is pinned in TestProrate.
func TestProrateComplements(t *testing.T) {
	r := rand.New(rand.NewPCG(4217, 2))
	for c := 0; c < 5000; c++ {
		var amount int64
		switch c % 3 {
		case 0: // JPY-sized
			amount = r.Int64N(200_001) - 100_000
		case 1:
			amount = r.Int64N(21) - 10
		default:
			amount = r.Int64N(2_000_000_000_000_001) - 1_000_000_000_000_000
		}
		var whole time.Duration
		switch c % 4 {
		case 0:
			whole = 30 * 24 * time.Hour
		case 1:
			whole = 366 * 24 * time.Hour
		case 2:
			whole = time.Duration(1+2*r.Int64N(50)) * time.Second // odd seconds
		default:
			whole = time.Duration(1+r.Int64N(400*86400)) * time.Second
		}
		part := time.Duration(r.Int64N(int64(whole/time.Second)+1)) * time.Second
		if 2*part == whole && amount%2 != 0 {
			continue
		}
		used, err1 := Prorate(amount, part, whole)
		rest, err2 := Prorate(amount, whole-part, whole)
		if err1 != nil || err2 != nil {
			t.Fatalf("Prorate(%d, %v|%v, %v): %v, %v", amount, part, whole-part, whole, err1, err2)
		}
		if used+rest != amount {
			t.Fatalf("Prorate(%d, %v, %v) = %d + Prorate(.., %v, ..) = %d = %d, want %d",
				amount, part, whole, used, whole-part, rest, used+rest, amount)
		}
	}
}

// A month charged day by day, either as one split or as the difference
// between what remains each day, adds up to the monthly price exactly.
func TestMonthByDay(t *testing.T) {
	const days = 30
	day := int64(24 * time.Hour / time.Second)
	for _, amount := range []int64{999, 1000, 1, 29, 31, 123_457, -4999, 1_000_000_000_000_000} {
		weights := make([]int64, days)
		for i := range weights {
			weights[i] = day
		}
		parts, err := Split(amount, weights)
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, p := range parts {
			sum += p
		}
		if sum != amount {
			t.Errorf("Split(%d) by day sums to %d", amount, sum)
		}

		whole := days * 24 * time.Hour
		sum = 0
		prev := amount
		for d := 1; d <= days; d++ {
			left, err := Prorate(amount, whole-time.Duration(d)*24*time.Hour, whole)
			if err != nil {
				t.Fatal(err)
			}
			sum += prev - left
			prev = left
		}
		if sum != amount || prev != 0 {
			t.Errorf("Prorate(%d) day by day sums to %d, %d left", amount, sum, prev)
		}
	}
}

func TestMulQuantity(t *testing.T) {
	tests := []struct {
		unit, qty int64
		want      int64
		overflow  bool
	}{
		{1250, 10_000, 12_500_000, false},
		{0, math.MaxInt64, 0, false},
		{-1250, 3, -3750, false},
		{1250, -3, -3750, false},
		{-1250, -3, 3750, false},
		{math.MaxInt64, 1, math.MaxInt64, false},
		{math.MaxInt64, 2, 0, true},
		{1 << 62, 2, 0, true},
		{-(1 << 62), 2, math.MinInt64, false},
		{1 << 62, -2, math.MinInt64, false},
		{math.MinInt64, 1, math.MinInt64, false},
		{math.MinInt64, -1, 0, true},
		{-1, math.MinInt64, 0, true},
		{1 << 32, 1 << 32, 0, true},
		{1_000_000_000_000, 10_000, 10_000_000_000_000_000, false},
		{1_000_000_000_000_000, 10_000, 0, true},
	}
	for _, tt := range tests {
		got, err := MulQuantity(tt.unit, tt.qty)
		if tt.overflow {
			if !errors.Is(err, ErrOverflow) {
				t.Errorf("MulQuantity(%d, %d) = %d, %v, want ErrOverflow", tt.unit, tt.qty, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("MulQuantity(%d, %d) = %d, %v, want %d", tt.unit, tt.qty, got, err, tt.want)
		}
	}
}

func TestFormat(t *testing.T) {
	const (
		nnbsp = "\u202f" // French thousands
		nbsp  = "\u00a0"
	)
	eur := Currency{"EUR", 2}
	usd := Currency{"USD", 2}
	sek := Currency{"SEK", 2}
	cny := Currency{"CNY", 2}
	jpy := Currency{"JPY", 0}
	kwd := Currency{"KWD", 3}
	en := language.English
	fr := language.French
	sv := language.Swedish
	zh := language.MustParse("zh-CN")
	tests := []struct {
		minor int64
		cur   Currency
		lang  language.Tag
		want  string
	}{
		{123450, eur, en, "EUR 1,234.50"},
		{123450, usd, en, "USD 1,234.50"},
		{-300, usd, en, "-USD 3.00"},
		{5, eur, en, "EUR 0.05"},
		{0, eur, en, "EUR 0.00"},
		{123456789, eur, en, "EUR 1,234,567.89"},
		{1234, jpy, en, "JPY 1,234"},
		{-1234567, jpy, en, "-JPY 1,234,567"},
		{1234567, kwd, en, "KWD 1,234.567"},
		{math.MinInt64, usd, en, "-USD 92,233,720,368,547,758.08"},

		{123450, eur, fr, "1" + nnbsp + "234,50" + nbsp + "€"},
		{123450, sek, fr, "1" + nnbsp + "234,50" + nbsp + "SEK"},
		{-123450, eur, fr, "-1" + nnbsp + "234,50" + nbsp + "€"},
		{99, eur, fr, "0,99" + nbsp + "€"},
		{1234, jpy, fr, "1" + nnbsp + "234" + nbsp + "JPY"},
		{1234567, kwd, fr, "1" + nnbsp + "234,567" + nbsp + "KWD"},
		{123450, eur, language.MustParse("fr-CA"), "1" + nnbsp + "234,50" + nbsp + "€"},

		{123450, sek, sv, "1" + nbsp + "234,50" + nbsp + "kr"},
		{123450, eur, sv, "1" + nbsp + "234,50" + nbsp + "€"},
		{123450, usd, sv, "1" + nbsp + "234,50" + nbsp + "USD"},
		{-5, sek, sv, "-0,05" + nbsp + "kr"},
		{1234, jpy, sv, "1" + nbsp + "234" + nbsp + "JPY"},
		{-1234567, kwd, sv, "-1" + nbsp + "234,567" + nbsp + "KWD"},

		{123450, cny, zh, "¥1,234.50"},
		{123450, eur, zh, "€1,234.50"},
		{123450, usd, zh, "US$1,234.50"},
		{123450, sek, zh, "SEK 1,234.50"},
		{-123450, cny, zh, "-¥1,234.50"},
		{1234, jpy, zh, "JPY 1,234"},
		{1234567, kwd, zh, "KWD 1,234.567"},
		{123450, cny, language.MustParse("zh-Hans"), "¥1,234.50"},

		{123450, eur, language.German, "EUR 1,234.50"}, // unsupported: English
		{123450, eur, language.Und, "EUR 1,234.50"},
	}
	for _, tt := range tests {
		if got := Format(tt.minor, tt.cur, tt.lang); got != tt.want {
			t.Errorf("Format(%d, %s, %s) = %q, want %q", tt.minor, tt.cur.Code, tt.lang, got, tt.want)
		}
	}
}
