package catalog

import (
	"fmt"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/kit/money"
)

// AnnualMonths is what an annual term costs in monthly prices: two months of
// the year come free.
const AnnualMonths = 10

// rate turns a US dollar price into a local list price.
type rate struct {
	// perMille is the local price of 1 USD, in thousandths of the currency's
	// major unit: 920 means 1 USD lists at 0.92 EUR.
	perMille int64
	// step is what local prices are rounded to, in minor units: 100 rounds
	// SEK to whole kronor, 10 rounds JPY to tens of yen, 1 keeps every fils.
	step int64
}

// Currencies lists every currency the catalog is priced in, USD first.
var Currencies = []string{"USD", "EUR", "GBP", "SEK", "NOK", "DKK", "CHF", "CAD", "AUD", "JPY", "CNY", "INR", "BRL", "KWD", "PLN"}

// rates are list-price factors, not exchange rates: they change when the
// price list does, never with the market.
var rates = map[string]rate{
	"USD": {1000, 1},
	"EUR": {920, 10},
	"GBP": {790, 10},
	"SEK": {10500, 100},
	"NOK": {10700, 100},
	"DKK": {6900, 100},
	"CHF": {880, 10},
	"CAD": {1370, 10},
	"AUD": {1520, 10},
	"JPY": {150000, 10},
	"CNY": {7200, 10},
	"INR": {83000, 100},
	"BRL": {5000, 10},
	"KWD": {308, 1},
	"PLN": {4000, 10},
}

// LocalPrice is the monthly list price in currency of a product that costs
// usdCents a month in US dollars, in the currency's minor units (its ISO 4217
// exponent: 0 decimals for JPY, 3 for KWD), rounded half up to the
// currency's step. Integers only: the same inputs always give the same price.
func LocalPrice(usdCents int64, currency string) (int64, error) {
	r, ok := rates[currency]
	if !ok {
		return 0, fmt.Errorf("catalog: no list-price rate for %q", currency)
	}
	cur, err := money.Lookup(currency)
	if err != nil {
		return 0, err
	}
	scale := int64(1)
	for range cur.Exponent {
		scale *= 10
	}
	// usdCents/100 dollars × perMille/1000 = local major units; × scale = minor.
	num := usdCents * r.perMille * scale
	den := int64(100*1000) * r.step
	return (num + den/2) / den * r.step, nil
}

// PriceList gives a product costing usdCents a month its monthly and annual
// prices in every currency of Currencies.
func PriceList(usdCents int64) ([]Price, error) {
	var out []Price
	for _, c := range Currencies {
		monthly, err := LocalPrice(usdCents, c)
		if err != nil {
			return nil, err
		}
		out = append(out,
			Price{Frequency: commercev1.Product_MONTHLY, Currency: c, UnitMinor: monthly},
			Price{Frequency: commercev1.Product_ANNUAL, Currency: c, UnitMinor: monthly * AnnualMonths})
	}
	return out, nil
}
