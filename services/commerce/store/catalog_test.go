package store_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/selfserve/selfserve/services/kit/kv"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/commerce/catalog"
	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/kit/errs"
)

func catalogIDs(t *testing.T, st *store.Store, size int) []string {
	t.Helper()
	var ids []string
	var after []byte
	for range 100 {
		var page []catalog.Product
		var next []byte
		err := st.DB.View(func(tx kv.Tx) (err error) {
			page, next, err = store.ListProducts(tx, after, size)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > size {
			t.Fatalf("page of %d over size %d", len(page), size)
		}
		for _, p := range page {
			ids = append(ids, p.ID)
		}
		if next == nil {
			return ids
		}
		after = next
	}
	t.Fatal("paging never ended")
	return nil
}

func TestSeedCatalog(t *testing.T) {
	st := open(t)
	if err := store.SeedCatalog(st.DB, catalog.Seed); err != nil {
		t.Fatal(err)
	}
	all := catalogIDs(t, st, 1000)
	if len(all) != len(catalog.Seed) {
		t.Fatalf("stored %d products, want %d", len(all), len(catalog.Seed))
	}
	for _, size := range []int{1, 2, 3, len(all)} {
		if got := catalogIDs(t, st, size); !reflect.DeepEqual(got, all) {
			t.Fatalf("pages of %d gave %v, want %v", size, got, all)
		}
	}

	// A later start adds new products and brings changed ones back to the seed.
	changed := append([]catalog.Product(nil), catalog.Seed...)
	first := changed[0]
	first.Names = map[string]string{"en": "Renamed", "fr": "Renommé"}
	first.Descriptions = map[string]string{"en": "Changed."}
	changed[0] = first
	extra := catalog.Seed[1]
	extra.ID, extra.SKU = "zz-new-product", "ZZ_NEW_PRODUCT"
	changed = append(changed, extra)
	if err := store.SeedCatalog(st.DB, changed); err != nil {
		t.Fatal(err)
	}
	if got := catalogIDs(t, st, 50); len(got) != len(all)+1 || got[len(got)-1] != "zz-new-product" {
		t.Fatalf("after reseeding: %v", got)
	}
	err := st.DB.View(func(tx kv.Tx) error {
		p, err := store.GetProduct(tx, first.ID)
		if err != nil {
			return err
		}
		if p.Names["en"] != "Renamed" || p.Names["sv"] != "" {
			t.Fatalf("reseeding did not update %s: %v", first.ID, p.Names)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The seed refuses a broken product, and writes nothing of its batch.
	broken := catalog.Seed[2]
	broken.Prices = nil
	if err := store.SeedCatalog(st.DB, []catalog.Product{catalog.Seed[0], broken}); err == nil {
		t.Fatal("a product without prices was seeded")
	}
}

func TestGetProductNotFound(t *testing.T) {
	st := open(t)
	err := st.DB.View(func(tx kv.Tx) error {
		_, err := store.GetProduct(tx, "nothing")
		return err
	})
	var e *errs.Error
	if !errors.As(err, &e) || e.Reason != errs.ResourceNotFound || e.Metadata["resource"] != "products/nothing" {
		t.Fatalf("got %v", err)
	}
}

func TestPolicies(t *testing.T) {
	st := open(t)
	effective := func(org, product string) (commercev1.ProductPolicy_Value, bool) {
		t.Helper()
		var v commercev1.ProductPolicy_Value
		var inherited bool
		err := st.DB.View(func(tx kv.Tx) (err error) {
			v, inherited, err = store.EffectivePolicy(tx, org, product)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return v, inherited
	}
	update := func(fn func(tx kv.Tx) error) {
		t.Helper()
		if err := st.DB.Update(fn); err != nil {
			t.Fatal(err)
		}
	}
	if v, inh := effective("acme", "sketchboard"); v != commercev1.ProductPolicy_ENABLED || !inh {
		t.Fatalf("fresh: %v %v", v, inh)
	}
	update(func(tx kv.Tx) error {
		return store.SetPolicy(tx, "acme", "sketchboard", commercev1.ProductPolicy_DISABLED)
	})
	if v, inh := effective("acme", "sketchboard"); v != commercev1.ProductPolicy_DISABLED || inh {
		t.Fatalf("own: %v %v", v, inh)
	}
	// Another organization, and another product, are untouched.
	if v, inh := effective("globex", "sketchboard"); v != commercev1.ProductPolicy_ENABLED || !inh {
		t.Fatalf("other org: %v %v", v, inh)
	}
	update(func(tx kv.Tx) error {
		return store.SetDefaultPolicy(tx, "acme", commercev1.ProductPolicy_ONLY_TRIALS_WITHOUT_PAYMENT_METHOD)
	})
	if v, inh := effective("acme", "formwise"); v != commercev1.ProductPolicy_ONLY_TRIALS_WITHOUT_PAYMENT_METHOD || !inh {
		t.Fatalf("default: %v %v", v, inh)
	}
	if v, _ := effective("acme", "sketchboard"); v != commercev1.ProductPolicy_DISABLED {
		t.Fatalf("own policy lost to the default: %v", v)
	}
	// VALUE_UNSPECIFIED goes back to inheriting.
	update(func(tx kv.Tx) error {
		return store.SetPolicy(tx, "acme", "sketchboard", commercev1.ProductPolicy_VALUE_UNSPECIFIED)
	})
	if v, inh := effective("acme", "sketchboard"); v != commercev1.ProductPolicy_ONLY_TRIALS_WITHOUT_PAYMENT_METHOD || !inh {
		t.Fatalf("reset: %v %v", v, inh)
	}
	update(func(tx kv.Tx) error {
		return store.SetDefaultPolicy(tx, "acme", commercev1.ProductPolicy_VALUE_UNSPECIFIED)
	})
	err := st.DB.View(func(tx kv.Tx) error {
		def, err := store.GetDefaultPolicy(tx, "acme")
		if def != commercev1.ProductPolicy_ENABLED {
			t.Fatalf("default after reset: %v", def)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DB.Update(func(tx kv.Tx) error { return store.SetPolicy(tx, "acme", "formwise", 42) }); err == nil {
		t.Fatal("an unknown policy value was stored")
	}
}
