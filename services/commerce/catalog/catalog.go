// Package catalog holds the rules of the products on sale and of the
// self-service policies that decide what members may buy on their own
// (API.md §3 "Catalog and policies", §4 "Policy"): what a product is, how it
// is priced and shown in each language, and which purchases and trials a
// policy allows.
package catalog

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/text/language"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/locale"
	"github.com/selfserve/selfserve/services/kit/money"
	"github.com/selfserve/selfserve/services/kit/names"
)

// Resource name patterns.
const (
	ProductPattern      = names.Product
	OrganizationPattern = names.Organization
	PolicyPattern       = names.ProductPolicy
	SettingsPattern     = names.Settings
)

// The trial a product offers unless it says otherwise (API.md §4).
const (
	DefaultTrialDays     = 30
	DefaultTrialLicenses = 25
)

// Product is a product on sale, with its texts in every supported language.
// It is stored as JSON: the proto Product carries one language only.
type Product struct {
	ID  string `json:"id"`
	SKU string `json:"sku"`
	// Names and Descriptions are keyed by locale.Code: en, fr, sv, zh-CN.
	// English is required; a missing language falls back to it.
	Names        map[string]string `json:"names"`
	Descriptions map[string]string `json:"descriptions"`
	// Prices holds one price per billing frequency and currency; none for a
	// trial-only product.
	Prices []Price `json:"prices,omitempty"`
	// Trial is nil when the product has none.
	Trial *Trial `json:"trial,omitempty"`
	// TrialOnly products can only be had as a trial.
	TrialOnly bool                             `json:"trial_only,omitempty"`
	Clouds    []licensingv1.Organization_Cloud `json:"clouds"`
}

// Price is the price of one license for one term.
type Price struct {
	Frequency commercev1.Product_BillingFrequency `json:"frequency"`
	Currency  string                              `json:"currency"`
	UnitMinor int64                               `json:"unit_minor"`
}

// Trial is the free trial a product offers.
type Trial struct {
	Days                  int32 `json:"days"`
	Licenses              int32 `json:"licenses"`
	RequiresPaymentMethod bool  `json:"requires_payment_method,omitempty"`
}

// ProductName is the resource name of the product id.
func ProductName(id string) string { return names.Format(ProductPattern, id) }

// PolicyName is the resource name of a product's policy in org.
func PolicyName(org, product string) string { return names.Format(PolicyPattern, org, product) }

// SettingsName is the resource name of org's self-service settings.
func SettingsName(org string) string { return names.Format(SettingsPattern, org) }

// Name is the product's resource name.
func (p Product) Name() string { return ProductName(p.ID) }

// text picks the value for lang, else the English one.
func text(m map[string]string, lang language.Tag) string {
	if s := m[locale.Code(locale.Match(lang.String()))]; s != "" {
		return s
	}
	return m[locale.Code(locale.English)]
}

// DisplayName is the product's name in lang (one of locale.Supported, or a
// tag matched to one), in English when it has none in that language.
func (p Product) DisplayName(lang language.Tag) string { return text(p.Names, lang) }

// Description is the product's description in lang, as DisplayName.
func (p Product) Description(lang language.Tag) string { return text(p.Descriptions, lang) }

// Proto is the product as the API shows it to a reader of lang.
func (p Product) Proto(lang language.Tag) *commercev1.Product {
	out := &commercev1.Product{
		Name:            p.Name(),
		DisplayName:     p.DisplayName(lang),
		Description:     p.Description(lang),
		SkuPartNumber:   p.SKU,
		TrialOnly:       p.TrialOnly,
		AvailableClouds: slices.Clone(p.Clouds),
	}
	for _, pr := range p.Prices {
		out.Prices = append(out.Prices, &commercev1.Product_Price{BillingFrequency: pr.Frequency, CurrencyCode: pr.Currency, UnitAmountMinor: pr.UnitMinor})
	}
	if t := p.Trial; t != nil {
		out.Trial = &commercev1.Product_Trial{Days: t.Days, Licenses: t.Licenses, RequiresPaymentMethod: t.RequiresPaymentMethod}
	}
	return out
}

// Price is the price of one license for one term of freq in currency; false
// when the product is not sold that way.
func (p Product) Price(freq commercev1.Product_BillingFrequency, currency string) (int64, bool) {
	for _, pr := range p.Prices {
		if pr.Frequency == freq && pr.Currency == currency {
			return pr.UnitMinor, true
		}
	}
	return 0, false
}

// AvailableIn tells whether the product is sold in cloud.
func (p Product) AvailableIn(cloud licensingv1.Organization_Cloud) bool {
	return slices.Contains(p.Clouds, cloud)
}

// Validate checks that a product definition is complete and consistent.
// Catalog definitions come from code, not from callers: a failure is a bug.
func (p Product) Validate() error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("product %q: %s", p.ID, fmt.Sprintf(format, args...))
	}
	if !names.ValidID(p.ID) {
		return fail("id is not a valid resource id")
	}
	if p.SKU == "" || strings.ToUpper(p.SKU) != p.SKU || strings.ContainsAny(p.SKU, " \t") {
		return fail("sku %q must be non-empty, uppercase, without spaces", p.SKU)
	}
	en := locale.Code(locale.English)
	if p.Names[en] == "" || p.Descriptions[en] == "" {
		return fail("an English name and description are required")
	}
	for _, m := range []map[string]string{p.Names, p.Descriptions} {
		for code := range m {
			if !slices.ContainsFunc(locale.Supported, func(t language.Tag) bool { return locale.Code(t) == code }) {
				return fail("language %q is not supported", code)
			}
		}
	}
	seen := map[string]bool{}
	for _, pr := range p.Prices {
		if pr.Frequency != commercev1.Product_MONTHLY && pr.Frequency != commercev1.Product_ANNUAL {
			return fail("price frequency %v", pr.Frequency)
		}
		if _, err := money.Lookup(pr.Currency); err != nil {
			return fail("%v", err)
		}
		if pr.UnitMinor <= 0 {
			return fail("price %s %v must be positive", pr.Currency, pr.Frequency)
		}
		k := pr.Frequency.String() + "/" + pr.Currency
		if seen[k] {
			return fail("two prices for %s", k)
		}
		seen[k] = true
	}
	switch {
	case p.TrialOnly && (p.Trial == nil || len(p.Prices) > 0):
		return fail("a trial-only product has a trial and no prices")
	case !p.TrialOnly && len(p.Prices) == 0:
		return fail("a product on sale needs prices")
	}
	if t := p.Trial; t != nil && (t.Days <= 0 || t.Licenses <= 0) {
		return fail("a trial needs days and licenses")
	}
	if len(p.Clouds) == 0 {
		return fail("the product is sold in no cloud")
	}
	for _, c := range p.Clouds {
		if c != licensingv1.Organization_GLOBAL && c != licensingv1.Organization_CHINA_21VIANET {
			return fail("unknown cloud %v", c)
		}
	}
	return nil
}
