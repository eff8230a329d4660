package catalog_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"golang.org/x/text/language"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/commerce/catalog"
	"github.com/selfserve/selfserve/services/kit/locale"
	"github.com/selfserve/selfserve/services/kit/money"
)

var frequencies = []commercev1.Product_BillingFrequency{commercev1.Product_MONTHLY, commercev1.Product_ANNUAL}

func TestSeedIsValid(t *testing.T) {
	if len(catalog.Seed) < 7 {
		t.Fatalf("seed has %d products, want at least 7", len(catalog.Seed))
	}
	ids, skus := map[string]bool{}, map[string]bool{}
	for _, p := range catalog.Seed {
		if err := p.Validate(); err != nil {
			t.Error(err)
		}
		if ids[p.ID] || skus[p.SKU] {
			t.Errorf("%s: id or sku %s used twice", p.ID, p.SKU)
		}
		ids[p.ID], skus[p.SKU] = true, true
	}
}

func TestSeedPricedEverywhere(t *testing.T) {
	for _, p := range catalog.Seed {
		if p.TrialOnly {
			if len(p.Prices) != 0 {
				t.Errorf("%s: trial-only product has prices", p.ID)
			}
			continue
		}
		if len(p.Prices) != len(catalog.Currencies)*len(frequencies) {
			t.Errorf("%s: %d prices, want %d", p.ID, len(p.Prices), len(catalog.Currencies)*len(frequencies))
		}
		for _, c := range catalog.Currencies {
			monthly, ok := p.Price(commercev1.Product_MONTHLY, c)
			if !ok || monthly <= 0 {
				t.Errorf("%s: no monthly price in %s", p.ID, c)
				continue
			}
			annual, ok := p.Price(commercev1.Product_ANNUAL, c)
			if !ok || annual != monthly*catalog.AnnualMonths {
				t.Errorf("%s: annual %s price %d, want %d", p.ID, c, annual, monthly*catalog.AnnualMonths)
			}
		}
	}
	for _, c := range []string{"USD", "EUR", "GBP", "SEK", "NOK", "DKK", "CHF", "CAD", "AUD", "JPY", "CNY", "INR", "BRL", "KWD", "PLN"} {
		if _, err := catalog.LocalPrice(100, c); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
	if _, err := catalog.LocalPrice(100, "XYZ"); err == nil {
		t.Error("a currency without a rate was priced")
	}
}

func TestSeedTrialsAndClouds(t *testing.T) {
	var noPayment, needsPayment, trialOnly, notInChina int
	for _, p := range catalog.Seed {
		if !p.AvailableIn(licensingv1.Organization_GLOBAL) {
			t.Errorf("%s: not sold in the global cloud", p.ID)
		}
		if !p.AvailableIn(licensingv1.Organization_CHINA_21VIANET) {
			notInChina++
		}
		tr := p.Trial
		if tr == nil {
			continue
		}
		if tr.Days != catalog.DefaultTrialDays || tr.Licenses != catalog.DefaultTrialLicenses {
			t.Errorf("%s: trial of %d days, %d licenses; want the default 30 and 25", p.ID, tr.Days, tr.Licenses)
		}
		switch {
		case p.TrialOnly:
			trialOnly++
			if tr.RequiresPaymentMethod {
				t.Errorf("%s: a trial-only product must not need a payment method", p.ID)
			}
		case tr.RequiresPaymentMethod:
			needsPayment++
		default:
			noPayment++
		}
	}
	if noPayment == 0 || needsPayment == 0 || trialOnly == 0 || notInChina == 0 {
		t.Fatalf("trials without payment method %d, with %d, trial-only %d, not in CHINA_21VIANET %d; want each at least 1",
			noPayment, needsPayment, trialOnly, notInChina)
	}
}

func TestSeedLocalized(t *testing.T) {
	for _, p := range catalog.Seed {
		en := p.Proto(locale.English)
		for _, lang := range []language.Tag{locale.French, locale.Swedish, locale.Chinese} {
			got := p.Proto(lang)
			if got.DisplayName == "" || got.DisplayName == en.DisplayName {
				t.Errorf("%s: %s name %q is missing or English", p.ID, locale.Code(lang), got.DisplayName)
			}
			if got.Description == "" || got.Description == en.Description {
				t.Errorf("%s: %s description %q is missing or English", p.ID, locale.Code(lang), got.Description)
			}
		}
	}
}

func TestProto(t *testing.T) {
	p := catalog.Product{
		ID: "widget", SKU: "WIDGET",
		Names:        map[string]string{"en": "Widget", "fr": "Gadget"},
		Descriptions: map[string]string{"en": "A widget."},
		Prices:       []catalog.Price{{Frequency: commercev1.Product_MONTHLY, Currency: "EUR", UnitMinor: 500}},
		Trial:        &catalog.Trial{Days: 30, Licenses: 25, RequiresPaymentMethod: true},
		Clouds:       []licensingv1.Organization_Cloud{licensingv1.Organization_GLOBAL},
	}
	fr := p.Proto(language.MustParse("fr-CA"))
	if fr.Name != "products/widget" || fr.DisplayName != "Gadget" || fr.Description != "A widget." || fr.SkuPartNumber != "WIDGET" {
		t.Fatalf("fr-CA: %v", fr)
	}
	if sv := p.Proto(locale.Swedish); sv.DisplayName != "Widget" {
		t.Fatalf("no Swedish name should fall back to English, got %q", sv.DisplayName)
	}
	if len(fr.Prices) != 1 || fr.Prices[0].UnitAmountMinor != 500 || fr.Prices[0].CurrencyCode != "EUR" || fr.Trial.GetDays() != 30 || !fr.Trial.GetRequiresPaymentMethod() {
		t.Fatalf("prices or trial: %v", fr)
	}
	if fr.AvailableClouds[0] != licensingv1.Organization_GLOBAL || len(fr.AvailableClouds) != 1 {
		t.Fatalf("clouds: %v", fr.AvailableClouds)
	}
	if _, ok := p.Price(commercev1.Product_ANNUAL, "EUR"); ok {
		t.Fatal("a price that is not there was found")
	}
	if _, ok := p.Price(commercev1.Product_MONTHLY, "USD"); ok {
		t.Fatal("a currency that is not there was found")
	}
	p.Trial = nil
	if p.Proto(locale.English).Trial != nil {
		t.Fatal("a product without a trial shows one")
	}
}

func TestProductJSONRoundTrip(t *testing.T) {
	for _, p := range catalog.Seed {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var back catalog.Product
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p, back) {
			t.Fatalf("%s changed through JSON", p.ID)
		}
	}
}

// Prices are rounded in the currency's own minor units: whole yen, three
// decimals of dinar, whole kronor and rupees.
func TestLocalPriceRounding(t *testing.T) {
	for _, tc := range []struct {
		usdCents int64
		currency string
		want     int64
	}{
		{600, "USD", 600},     // 6.00 USD
		{1250, "USD", 1250},   // 12.50 USD
		{600, "EUR", 550},     // 5.52 to the ten cents
		{1250, "EUR", 1150},   // 11.50
		{600, "JPY", 900},     // 900 yen: exponent 0
		{1250, "JPY", 1880},   // 1,875 yen to the ten yen, half up
		{600, "KWD", 1848},    // 1.848 KWD: exponent 3, every fils kept
		{1250, "KWD", 3850},   // 3.850 KWD
		{300, "KWD", 924},     // 0.924 KWD
		{600, "SEK", 6300},    // 63 kronor
		{1250, "SEK", 13100},  // 131.25 to whole kronor
		{1250, "INR", 103800}, // 1,037.50 to whole rupees, half up
		{900, "CNY", 6480},    // 64.80
		{2200, "GBP", 1740},   // 17.38 to the ten pence
	} {
		got, err := catalog.LocalPrice(tc.usdCents, tc.currency)
		if err != nil || got != tc.want {
			t.Errorf("LocalPrice(%d, %s) = %d, %v; want %d", tc.usdCents, tc.currency, got, err, tc.want)
		}
	}
	// Every price of the seed is a whole number of its currency's minor
	// units, which is all JPY can hold.
	for _, p := range catalog.Seed {
		for _, pr := range p.Prices {
			cur, err := money.Lookup(pr.Currency)
			if err != nil {
				t.Fatal(err)
			}
			if cur.Code == "JPY" && cur.Exponent != 0 || cur.Code == "KWD" && cur.Exponent != 3 {
				t.Fatalf("exponent of %s is %d", cur.Code, cur.Exponent)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	good := func() catalog.Product {
		return catalog.Product{
			ID: "widget", SKU: "WIDGET",
			Names:        map[string]string{"en": "Widget"},
			Descriptions: map[string]string{"en": "A widget."},
			Prices:       []catalog.Price{{Frequency: commercev1.Product_MONTHLY, Currency: "EUR", UnitMinor: 500}},
			Clouds:       []licensingv1.Organization_Cloud{licensingv1.Organization_GLOBAL},
		}
	}
	if err := good().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(p *catalog.Product){
		"bad id":              func(p *catalog.Product) { p.ID = "Widget" },
		"lowercase sku":       func(p *catalog.Product) { p.SKU = "widget" },
		"no English name":     func(p *catalog.Product) { p.Names = map[string]string{"fr": "Gadget"} },
		"unknown language":    func(p *catalog.Product) { p.Names["de"] = "Ding" },
		"no prices":           func(p *catalog.Product) { p.Prices = nil },
		"zero price":          func(p *catalog.Product) { p.Prices[0].UnitMinor = 0 },
		"unknown currency":    func(p *catalog.Product) { p.Prices[0].Currency = "XYZ" },
		"no frequency":        func(p *catalog.Product) { p.Prices[0].Frequency = 0 },
		"duplicate price":     func(p *catalog.Product) { p.Prices = append(p.Prices, p.Prices[0]) },
		"trial-only priced":   func(p *catalog.Product) { p.TrialOnly, p.Trial = true, &catalog.Trial{Days: 30, Licenses: 25} },
		"trial-only no trial": func(p *catalog.Product) { p.TrialOnly, p.Prices = true, nil },
		"empty trial":         func(p *catalog.Product) { p.Trial = &catalog.Trial{} },
		"no cloud":            func(p *catalog.Product) { p.Clouds = nil },
		"unspecified cloud":   func(p *catalog.Product) { p.Clouds = []licensingv1.Organization_Cloud{0} },
	} {
		p := good()
		edit(&p)
		if err := p.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
