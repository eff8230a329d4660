package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/commerce/catalog"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
)

// The catalog's buckets (listed in store.go's buckets).
var (
	// products: {product} → catalog.Product as JSON, every language in it
	productsBucket = []byte("products")
	// product_policies: {org}\0{product} → the product's own policy, by its
	// enum name (DISABLED); absent when it inherits the default
	productPolicies = []byte("product_policies")
	// self_service_settings: {org} → the organization's default policy, by
	// its enum name; absent until an admin sets it (then it is ENABLED)
	selfServiceSettings = []byte("self_service_settings")
)

// PutProduct stores a product, creating or replacing it, after
// catalog.Product.Validate.
func PutProduct(tx kv.Tx, p catalog.Product) error {
	if err := p.Validate(); err != nil {
		return err
	}
	v, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return tx.Bucket(productsBucket).Put([]byte(p.ID), v)
}

// GetProduct reads a product by id; NOT_FOUND (products/{id}) when absent.
func GetProduct(tx kv.Tx, id string) (catalog.Product, error) {
	v := tx.Bucket(productsBucket).Get([]byte(id))
	if v == nil {
		return catalog.Product{}, errs.NotFound(catalog.ProductName(id))
	}
	return decodeProduct(id, v)
}

// decoded remembers each product as last decoded, with the bytes it was
// decoded from: every purchase reads its product, and the same bytes decode
// the same way. productsBucket read from the store are shared: never changed.
var decoded sync.Map // id → decodedProduct

type decodedProduct struct {
	raw []byte
	p   catalog.Product
}

func decodeProduct(id string, v []byte) (catalog.Product, error) {
	if d, ok := decoded.Load(id); ok && bytes.Equal(d.(decodedProduct).raw, v) {
		return d.(decodedProduct).p, nil
	}
	var p catalog.Product
	if err := json.Unmarshal(v, &p); err != nil {
		return catalog.Product{}, fmt.Errorf("decode product %q: %w", id, err)
	}
	decoded.Store(id, decodedProduct{raw: bytes.Clone(v), p: p})
	return p, nil
}

// ListProducts returns up to size products after the cursor (the id of the
// last product served; nil for the first page), in id order, and the cursor
// of the next page (nil at the end).
func ListProducts(tx kv.Tx, after []byte, size int) ([]catalog.Product, []byte, error) {
	var out []catalog.Product
	var next, last []byte
	err := kv.Scan(tx.Bucket(productsBucket), nil, after, func(k, v []byte) (bool, error) {
		if len(out) == size {
			next = last
			return false, nil
		}
		p, err := decodeProduct(string(k), v)
		if err != nil {
			return false, err
		}
		out = append(out, p)
		last = bytes.Clone(k)
		return true, nil
	})
	return out, next, err
}

// SeedCatalog makes the stored catalog hold every product of products as
// defined there: missing ones are added and changed ones are overwritten, so
// the seed stays the source of truth for the products it defines. productsBucket
// it does not name are left alone.
func SeedCatalog(db kv.DB, products []catalog.Product) error {
	return db.Update(func(tx kv.Tx) error {
		for _, p := range products {
			v, err := json.Marshal(p)
			if err != nil {
				return err
			}
			if bytes.Equal(tx.Bucket(productsBucket).Get([]byte(p.ID)), v) {
				continue
			}
			if err := PutProduct(tx, p); err != nil {
				return err
			}
		}
		return nil
	})
}

func encodePolicy(v commercev1.ProductPolicy_Value) []byte { return []byte(v.String()) }

func decodePolicy(b []byte) (commercev1.ProductPolicy_Value, error) {
	n, ok := commercev1.ProductPolicy_Value_value[string(b)]
	if !ok {
		return 0, fmt.Errorf("decode policy %q: unknown value", b)
	}
	return commercev1.ProductPolicy_Value(n), nil
}

// setPolicyValue stores v under key in bucket, or deletes the key when v is
// VALUE_UNSPECIFIED. Only settable values and VALUE_UNSPECIFIED are stored.
func setPolicyValue(b kv.Bucket, key []byte, v commercev1.ProductPolicy_Value) error {
	if v == commercev1.ProductPolicy_VALUE_UNSPECIFIED {
		return b.Delete(key)
	}
	if !catalog.Settable(v) {
		return fmt.Errorf("policy %v cannot be stored", v)
	}
	return b.Put(key, encodePolicy(v))
}

// GetPolicy reads the policy org set on a product itself:
// VALUE_UNSPECIFIED when it has none and inherits the default.
func GetPolicy(tx kv.Tx, org, product string) (commercev1.ProductPolicy_Value, error) {
	b := tx.Bucket(productPolicies).Get(kv.Key(org, product))
	if b == nil {
		return commercev1.ProductPolicy_VALUE_UNSPECIFIED, nil
	}
	return decodePolicy(b)
}

// SetPolicy sets the policy of a product in org; VALUE_UNSPECIFIED removes it,
// and the product inherits the default again.
func SetPolicy(tx kv.Tx, org, product string, v commercev1.ProductPolicy_Value) error {
	return setPolicyValue(tx.Bucket(productPolicies), kv.Key(org, product), v)
}

// GetDefaultPolicy reads org's default policy: catalog.DefaultPolicy
// (ENABLED) until an admin sets one.
func GetDefaultPolicy(tx kv.Tx, org string) (commercev1.ProductPolicy_Value, error) {
	b := tx.Bucket(selfServiceSettings).Get([]byte(org))
	if b == nil {
		return catalog.DefaultPolicy, nil
	}
	return decodePolicy(b)
}

// SetDefaultPolicy sets org's default policy; VALUE_UNSPECIFIED goes back to
// catalog.DefaultPolicy.
func SetDefaultPolicy(tx kv.Tx, org string, v commercev1.ProductPolicy_Value) error {
	return setPolicyValue(tx.Bucket(selfServiceSettings), []byte(org), v)
}

// EffectivePolicy is the policy that applies to a product in org (see
// catalog.Effective) and whether it is inherited from the default. It does not
// check that the product exists.
func EffectivePolicy(tx kv.Tx, org, productID string) (commercev1.ProductPolicy_Value, bool, error) {
	own, err := GetPolicy(tx, org, productID)
	if err != nil {
		return 0, false, err
	}
	def, err := GetDefaultPolicy(tx, org)
	if err != nil {
		return 0, false, err
	}
	v, inherited := catalog.Effective(&own, def)
	return v, inherited, nil
}
