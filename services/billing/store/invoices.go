package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	"github.com/selfserve/selfserve/services/billing/accounts"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/names"
)

// Charge is the billable event behind an invoice, kept for retries.
type Charge struct {
	Key          string    `json:"key"`
	Invoice      string    `json:"invoice"`
	Profile      string    `json:"profile"`
	Subscription string    `json:"subscription,omitempty"`
	Actor        string    `json:"actor,omitempty"`
	OnFailure    int32     `json:"on_failure"`
	Attempts     int       `json:"attempts"`
	Decline      string    `json:"decline,omitempty"`
	NextRetry    time.Time `json:"next_retry,omitzero"`
	Reference    string    `json:"reference,omitempty"`
}

func timeBytes(t time.Time) []byte { return kv.Uint64(uint64(t.UnixNano())) }

// NextInvoiceNumber takes the next sequential number of an account's invoices.
func NextInvoiceNumber(tx kv.Tx, org, account string) (uint64, error) {
	b := tx.Bucket(invoiceNumbers)
	var n uint64
	if v := b.Get(kv.Key(org, account)); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	n++
	return n, b.Put(kv.Key(org, account), kv.Uint64(n))
}

// InvoiceID is the resource id of an account's n-th invoice.
func InvoiceID(n uint64) string { return fmt.Sprintf("inv-%08d", n) }

// InsertInvoice stores a new invoice and its place in time.
func InsertInvoice(tx kv.Tx, org, account, id string, inv *billingv1.Invoice) error {
	inv.Name = names.Format(accounts.InvoicePattern, org, account, id)
	if err := kv.Put(tx.Bucket(invoicesBucket), kv.Key(org, account, id), inv); err != nil {
		return err
	}
	k := append(kv.Prefix(org, account), timeBytes(inv.GetIssueTime().AsTime())...)
	return tx.Bucket(invoiceTimes).Put(append(k, id...), nil)
}

// PutInvoiceTexts keeps the descriptions of an invoice's lines in every
// language, a map per line keyed by locale.Code.
func PutInvoiceTexts(tx kv.Tx, org, account, id string, texts []map[string]string) error {
	if len(texts) == 0 {
		return nil
	}
	v, err := json.Marshal(texts)
	if err != nil {
		return err
	}
	return tx.Bucket(invoiceTexts).Put(kv.Key(org, account, id), v)
}

// GetInvoiceTexts reads the descriptions of an invoice's lines in every
// language; nil when it has none.
func GetInvoiceTexts(tx kv.Tx, name string) ([]map[string]string, error) {
	ids, ok := names.Match(name, accounts.InvoicePattern)
	if !ok {
		return nil, errs.NotFound(name)
	}
	v := tx.Bucket(invoiceTexts).Get(kv.Key(ids...))
	if v == nil {
		return nil, nil
	}
	var texts []map[string]string
	if err := json.Unmarshal(v, &texts); err != nil {
		return nil, fmt.Errorf("invoice texts of %s: %w", name, err)
	}
	return texts, nil
}

// GetInvoice reads an invoice.
func GetInvoice(tx kv.Tx, org, account, id string) (*billingv1.Invoice, error) {
	return get(tx, invoicesBucket, kv.Key(org, account, id), &billingv1.Invoice{}, names.Format(accounts.InvoicePattern, org, account, id))
}

// GetInvoiceByName reads an invoice by resource name.
func GetInvoiceByName(tx kv.Tx, name string) (*billingv1.Invoice, error) {
	var org, acct, id string
	if !names.Scan(name, accounts.InvoicePattern, &org, &acct, &id) {
		return nil, errs.NotFound(name)
	}
	return GetInvoice(tx, org, acct, id)
}

// PutInvoice writes an invoice back (its issue time never changes).
func PutInvoice(tx kv.Tx, inv *billingv1.Invoice) error {
	ids, ok := names.Match(inv.GetName(), accounts.InvoicePattern)
	if !ok {
		return errs.NotFound(inv.GetName())
	}
	return kv.Put(tx.Bucket(invoicesBucket), kv.Key(ids...), inv)
}

// ListInvoices lists an account's invoices issued in [from, to), newest
// first, resuming before the cursor.
func ListInvoices(tx kv.Tx, org, account string, from, to time.Time, before []byte, size int) ([]*billingv1.Invoice, []byte, error) {
	prefix := kv.Prefix(org, account)
	if before == nil {
		before = append(append([]byte(nil), prefix...), timeBytes(to)...)
	}
	low := timeBytes(from)
	if kv.Prefetches(tx) {
		// On etcd: the page's invoices and their line texts in one round trip.
		var refs []kv.Ref
		kv.ScanReverse(tx.Bucket(invoiceTimes), prefix, before, func(k, _ []byte) (bool, error) {
			rest := k[len(prefix):]
			if len(rest) < 8 || string(rest[:8]) < string(low) {
				return false, nil
			}
			key := kv.Key(org, account, string(rest[8:]))
			refs = append(refs, kv.Ref{Bucket: invoicesBucket, Key: key}, kv.Ref{Bucket: invoiceTexts, Key: key})
			return len(refs) < 2*(size+1), nil
		})
		kv.Prefetch(tx, refs...)
	}
	out, next, err := kv.Page(tx.Bucket(invoiceTimes), prefix, before, size, true, func(k, _ []byte) (*billingv1.Invoice, bool, error) {
		rest := k[len(prefix):]
		if len(rest) < 8 || string(rest[:8]) < string(low) {
			return nil, false, errStop
		}
		inv, err := GetInvoice(tx, org, account, string(rest[8:]))
		return inv, err == nil, err
	})
	if err == errStop {
		err = nil
	}
	return out, next, err
}

// errStop ends a scan early without an error for the caller.
var errStop = stopScan{}

type stopScan struct{}

func (stopScan) Error() string { return "stop" }

// GetCharge reads the charge of an idempotency key; nil when there is none.
func GetCharge(tx kv.Tx, org, key string) (*Charge, error) {
	v := tx.Bucket(chargesBucket).Get(kv.Key(org, key))
	if v == nil {
		return nil, nil
	}
	c := &Charge{}
	return c, json.Unmarshal(v, c)
}

// PutCharge writes a charge and keeps its retry schedule in step.
func PutCharge(tx kv.Tx, org string, c *Charge, previousRetry time.Time) error {
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := tx.Bucket(chargesBucket).Put(kv.Key(org, c.Key), v); err != nil {
		return err
	}
	r := tx.Bucket(retriesBucket)
	if !previousRetry.IsZero() {
		if err := r.Delete(append(timeBytes(previousRetry), kv.Key(org, c.Key)...)); err != nil {
			return err
		}
	}
	if !c.NextRetry.IsZero() {
		return r.Put(append(timeBytes(c.NextRetry), kv.Key(org, c.Key)...), nil)
	}
	return nil
}

// Retry is a charge whose retry is due.
type Retry struct {
	Key       []byte // in retriesBucket
	Org       string
	ChargeKey string
}

// DueRetries lists up to limit charges whose retry is due at now, soonest
// first.
func DueRetries(tx kv.Tx, now time.Time, limit int) ([]Retry, error) {
	var out []Retry
	c := tx.Bucket(retriesBucket).Cursor()
	for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
		if int64(binary.BigEndian.Uint64(k[:8])) > now.UnixNano() {
			break
		}
		parts := kv.Split(k[8:])
		out = append(out, Retry{Key: append([]byte(nil), k...), Org: parts[0], ChargeKey: parts[1]})
	}
	return out, nil
}

// DropRetry removes a retry, by its key, from the schedule.
func DropRetry(tx kv.Tx, key []byte) error { return tx.Bucket(retriesBucket).Delete(key) }
