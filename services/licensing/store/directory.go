package store

import (
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/names"
	"github.com/selfserve/selfserve/services/licensing/directory"
)

// InsertOrganization stores a new organization with id inside tx.
func InsertOrganization(tx kv.Tx, id string, org *licensingv1.Organization, now time.Time) error {
	b := tx.Bucket(organizationsBucket)
	name := names.Format(directory.OrganizationPattern, id)
	if b.Get([]byte(id)) != nil {
		return errs.New(errs.ResourceExists, "%s already exists", name).With("resource", name)
	}
	org.Name = name
	org.CreateTime = timestamppb.New(now)
	org.AdminCenterUri = directory.AdminCenter(org.GetCloud())
	return kv.Put(b, []byte(id), org)
}

// GetOrganization reads an organization inside tx; NOT_FOUND when absent.
func GetOrganization(tx kv.Tx, id string) (*licensingv1.Organization, error) {
	org := &licensingv1.Organization{}
	ok, err := kv.Get(tx.Bucket(organizationsBucket), []byte(id), org)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errs.NotFound(names.Format(directory.OrganizationPattern, id))
	}
	org.AdminCenterUri = directory.AdminCenter(org.GetCloud())
	return org, nil
}

// ListOrganizations returns up to size organizations after the cursor, in id
// order, and the cursor of the next page (nil at the end).
func ListOrganizations(tx kv.Tx, after []byte, size int) ([]*licensingv1.Organization, []byte, error) {
	return kv.Page(tx.Bucket(organizationsBucket), nil, after, size, false, func(_, v []byte) (*licensingv1.Organization, bool, error) {
		org := &licensingv1.Organization{}
		if err := proto.Unmarshal(v, org); err != nil {
			return nil, false, err
		}
		org.AdminCenterUri = directory.AdminCenter(org.GetCloud())
		return org, true, nil
	})
}

// InsertUser stores a new user of org with id inside tx, with its e-mail and
// search index entries.
func InsertUser(tx kv.Tx, org, id string, u *licensingv1.User, now time.Time) error {
	name := names.Format(directory.UserPattern, org, id)
	users := tx.Bucket(usersBucket)
	if users.Get(kv.Key(org, id)) != nil {
		return errs.New(errs.ResourceExists, "%s already exists", name).With("resource", name)
	}
	emails := tx.Bucket(userEmails)
	if emails.Get(kv.Key(org, u.GetEmail())) != nil {
		return errs.New(errs.ResourceExists, "a user with this e-mail already exists").With("field", "user.email")
	}
	u.Name = name
	u.CreateTime = timestamppb.New(now)
	if err := kv.Put(users, kv.Key(org, id), u); err != nil {
		return err
	}
	if err := emails.Put(kv.Key(org, u.GetEmail()), []byte(id)); err != nil {
		return err
	}
	terms := tx.Bucket(userTerms)
	for _, t := range directory.SearchTerms(u) {
		if err := terms.Put(kv.Key(org, t, id), nil); err != nil {
			return err
		}
	}
	return nil
}

// GetUser reads a user inside tx; NOT_FOUND when absent.
func GetUser(tx kv.Tx, org, id string) (*licensingv1.User, error) {
	u := &licensingv1.User{}
	ok, err := kv.Get(tx.Bucket(usersBucket), kv.Key(org, id), u)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errs.NotFound(names.Format(directory.UserPattern, org, id))
	}
	return u, nil
}

// ListUsers returns up to size users of org after the cursor, in id order,
// and the cursor of the next page (nil at the end).
func ListUsers(tx kv.Tx, org string, after []byte, size int) ([]*licensingv1.User, []byte, error) {
	return kv.Page(tx.Bucket(usersBucket), kv.Prefix(org), after, size, false, func(_, v []byte) (*licensingv1.User, bool, error) {
		u := &licensingv1.User{}
		return u, true, proto.Unmarshal(v, u)
	})
}

// SearchUsers returns up to size users of org matching the folded query (see
// directory.SearchTerms), in order of the matched term, each user once, after
// the cursor (an index key), and the cursor of the next page.
func SearchUsers(tx kv.Tx, org, query string, after []byte, size int) ([]*licensingv1.User, []byte, error) {
	prefix := append(kv.Prefix(org), query...)
	return kv.Page(tx.Bucket(userTerms), prefix, after, size, false, func(k, _ []byte) (*licensingv1.User, bool, error) {
		parts := kv.Split(k)
		if len(parts) != 3 {
			return nil, false, nil
		}
		term, id := parts[1], parts[2]
		u, err := GetUser(tx, org, id)
		if err != nil {
			return nil, false, err
		}
		// A user is listed at its first matching term only, so pages never repeat it.
		first, _ := directory.FirstMatch(directory.SearchTerms(u), query)
		return u, first == term, nil
	})
}
