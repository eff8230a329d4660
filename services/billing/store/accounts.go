package store

import (
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/billing/accounts"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/names"
	"github.com/selfserve/selfserve/services/kit/outbox"
)

func get[T proto.Message](tx kv.Tx, bucket []byte, key []byte, m T, name string) (T, error) {
	ok, err := kv.Get(tx.Bucket(bucket), key, m)
	if err != nil {
		return m, err
	}
	if !ok {
		return m, errs.NotFound(name)
	}
	return m, nil
}

// InsertAccount stores a new account with its default profile.
func InsertAccount(tx kv.Tx, org, id, ownerID string, a *billingv1.BillingAccount, cloud licensingv1.Organization_Cloud, now time.Time) error {
	a.Name = names.Format(accounts.AccountPattern, org, id)
	a.CreateTime = timestamppb.New(now)
	if tx.Bucket(accountsBucket).Get(kv.Key(org, id)) != nil {
		return errs.New(errs.ResourceExists, "%s already exists", a.Name)
	}
	if err := kv.Put(tx.Bucket(accountsBucket), kv.Key(org, id), a); err != nil {
		return err
	}
	if err := tx.Bucket(accountOwners).Put(kv.Key(org, ownerID, id), nil); err != nil {
		return err
	}
	if err := tx.Bucket(accountClouds).Put(kv.Key(org, id), []byte{byte(cloud)}); err != nil {
		return err
	}
	p := &billingv1.BillingProfile{
		Name:        a.GetName() + "/billingProfiles/" + accounts.DefaultProfile,
		DisplayName: "Default",
		BillTo:      a.GetSoldTo(),
		CreateTime:  a.GetCreateTime(),
		UpdateTime:  a.GetCreateTime(),
	}
	return kv.Put(tx.Bucket(profilesBucket), kv.Key(org, id, accounts.DefaultProfile), p)
}

// GetAccount reads an account and its organization's cloud.
func GetAccount(tx kv.Tx, org, id string) (*billingv1.BillingAccount, licensingv1.Organization_Cloud, error) {
	a, err := get(tx, accountsBucket, kv.Key(org, id), &billingv1.BillingAccount{}, names.Format(accounts.AccountPattern, org, id))
	if err != nil {
		return nil, 0, err
	}
	cloud := licensingv1.Organization_GLOBAL
	if v := tx.Bucket(accountClouds).Get(kv.Key(org, id)); len(v) == 1 {
		cloud = licensingv1.Organization_Cloud(v[0])
	}
	return a, cloud, nil
}

// ListAccounts lists an organization's accounts in id order.
func ListAccounts(tx kv.Tx, org string, after []byte, size int) ([]*billingv1.BillingAccount, []byte, error) {
	return kv.Page(tx.Bucket(accountsBucket), kv.Prefix(org), after, size, false, func(_, v []byte) (*billingv1.BillingAccount, bool, error) {
		a := &billingv1.BillingAccount{}
		return a, true, proto.Unmarshal(v, a)
	})
}

// ListOwnAccounts lists the accounts an owner holds.
func ListOwnAccounts(tx kv.Tx, org, owner string, after []byte, size int) ([]*billingv1.BillingAccount, []byte, error) {
	return kv.Page(tx.Bucket(accountOwners), kv.Prefix(org, owner), after, size, false, func(k, _ []byte) (*billingv1.BillingAccount, bool, error) {
		a, _, err := GetAccount(tx, org, kv.Split(k)[2])
		return a, err == nil, err
	})
}

// GetProfile reads a billing profile.
func GetProfile(tx kv.Tx, org, account, id string) (*billingv1.BillingProfile, error) {
	return get(tx, profilesBucket, kv.Key(org, account, id), &billingv1.BillingProfile{}, names.Format(accounts.ProfilePattern, org, account, id))
}

// PutProfile writes a billing profile.
func PutProfile(tx kv.Tx, org, account, id string, p *billingv1.BillingProfile, now time.Time) error {
	p.UpdateTime = timestamppb.New(now)
	return kv.Put(tx.Bucket(profilesBucket), kv.Key(org, account, id), p)
}

// ListProfiles lists the profiles of an account.
func ListProfiles(tx kv.Tx, org, account string, after []byte, size int) ([]*billingv1.BillingProfile, []byte, error) {
	return kv.Page(tx.Bucket(profilesBucket), kv.Prefix(org, account), after, size, false, func(_, v []byte) (*billingv1.BillingProfile, bool, error) {
		p := &billingv1.BillingProfile{}
		return p, true, proto.Unmarshal(v, p)
	})
}

// InsertPaymentMethod stores a payment method as shown and its processor token.
func InsertPaymentMethod(tx kv.Tx, org, account, id string, m *billingv1.PaymentMethod, token string, now time.Time) error {
	m.Name = names.Format(accounts.PaymentMethodPattern, org, account, id)
	m.CreateTime = timestamppb.New(now)
	m.UpdateTime = m.CreateTime
	if err := kv.Put(tx.Bucket(paymentMethods), kv.Key(org, account, id), m); err != nil {
		return err
	}
	return tx.Bucket(paymentTokens).Put(kv.Key(org, account, id), []byte(token))
}

// GetPaymentMethod reads a payment method as shown.
func GetPaymentMethod(tx kv.Tx, org, account, id string) (*billingv1.PaymentMethod, error) {
	return get(tx, paymentMethods, kv.Key(org, account, id), &billingv1.PaymentMethod{}, names.Format(accounts.PaymentMethodPattern, org, account, id))
}

// PaymentToken is the processor's token of a payment method, by name; empty
// when it does not exist.
func PaymentToken(tx kv.Tx, name string) string {
	ids, ok := names.Match(name, accounts.PaymentMethodPattern)
	if !ok {
		return ""
	}
	return string(tx.Bucket(paymentTokens).Get(kv.Key(ids...)))
}

// PutPaymentMethod writes an edited payment method.
func PutPaymentMethod(tx kv.Tx, org, account, id string, m *billingv1.PaymentMethod, now time.Time) error {
	m.UpdateTime = timestamppb.New(now)
	return kv.Put(tx.Bucket(paymentMethods), kv.Key(org, account, id), m)
}

// DeletePaymentMethod removes a payment method and its token.
func DeletePaymentMethod(tx kv.Tx, org, account, id string) error {
	if err := tx.Bucket(paymentMethods).Delete(kv.Key(org, account, id)); err != nil {
		return err
	}
	return tx.Bucket(paymentTokens).Delete(kv.Key(org, account, id))
}

// ListPaymentMethods lists the payment methods of an account.
func ListPaymentMethods(tx kv.Tx, org, account string, after []byte, size int) ([]*billingv1.PaymentMethod, []byte, error) {
	return kv.Page(tx.Bucket(paymentMethods), kv.Prefix(org, account), after, size, false, func(_, v []byte) (*billingv1.PaymentMethod, bool, error) {
		m := &billingv1.PaymentMethod{}
		return m, true, proto.Unmarshal(v, m)
	})
}

// MethodInUse names the profile of the account that uses a payment method,
// as payment or backup method; empty when none does.
func MethodInUse(tx kv.Tx, org, account, name string) (string, error) {
	var user string
	err := kv.Scan(tx.Bucket(profilesBucket), kv.Prefix(org, account), nil, func(_, v []byte) (bool, error) {
		p := &billingv1.BillingProfile{}
		if err := proto.Unmarshal(v, p); err != nil {
			return false, err
		}
		if p.GetPaymentMethod() == name || p.GetBackupPaymentMethod() == name {
			user = p.GetName()
			return false, nil
		}
		return true, nil
	})
	return user, err
}

// AddEvent puts an audit event in the outbox, in the transaction of the change.
func AddEvent(tx kv.Tx, e *commercev1.Event) error {
	v, err := proto.Marshal(e)
	if err != nil {
		return err
	}
	return outbox.Add(tx, auditOutbox, v)
}
