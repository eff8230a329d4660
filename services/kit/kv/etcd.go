package kv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/metrics"
)

// tooManyConflicts answers a transaction that lost to other writers for
// longer than RetryFor.
func tooManyConflicts(attempts int) error {
	return errs.New(errs.Aborted, "the store is busy: %d conflicting writes in a row; try again", attempts)
}

// Etcd is the etcd backend of DB: one service's buckets under a key prefix
// of an etcd cluster, shared by every replica of the service.
//
// A bucket's key k is stored at PREFIX BUCKET "/" k. A transaction reads at
// one revision of the cluster (a consistent snapshot, taken at its first
// read) and buffers its writes; Update commits them in one etcd Txn guarded
// by compares: every key read must still have the mod revision it was read
// at, and no key in a range a cursor walked may have changed since the
// snapshot. When another writer got there first the compares fail, nothing
// is written, and fn runs again on a new snapshot (optimistic concurrency,
// as etcd's own STM does). Cursors page through range requests of growing
// size, never reading a bucket whole.
//
// A range compare sees keys added or changed in the range, not keys
// deleted from it (etcd compares only keys that exist). A key a
// transaction Gets is guarded against deletion too; so decide on point
// reads (a pool's stored count, a request record) where a rival's delete
// must make the transaction run again, as the services do.
type Etcd struct {
	cli    *clientv3.Client
	prefix string
	// OpTimeout bounds each request to etcd; a store that does not answer
	// within it is UNAVAILABLE.
	OpTimeout time.Duration
	// RetryFor bounds how long Update goes on retrying after conflicts.
	RetryFor time.Duration

	closeClient bool
	gate        sync.RWMutex // shared by first attempts, held alone by retries
	mu          sync.Mutex
	seqs        map[string]*seqBlock
}

// SeqBlock is how many sequence numbers a replica takes from etcd at once.
const SeqBlock = 1000

type seqBlock struct{ next, last uint64 }

// DefaultDialTimeout is how long DialEtcd waits for a cluster to answer.
const DefaultDialTimeout = 5 * time.Second

// DialEtcd connects to an etcd cluster and checks, within timeout, that it
// answers a quorum read; otherwise it fails naming the endpoints.
func DialEtcd(endpoints []string, timeout time.Duration) (*clientv3.Client, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("etcd: no endpoints given (--etcd-endpoints host:port,...)")
	}
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          timeout,
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		Logger:               zap.NewNop(),
		MaxCallSendMsgSize:   16 << 20,
		MaxCallRecvMsgSize:   64 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd at %s: %w", strings.Join(endpoints, ","), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if _, err := cli.Get(ctx, "/selfserve/!probe"); err != nil {
		cli.Close()
		return nil, fmt.Errorf("etcd at %s: no answer within %s: %w", strings.Join(endpoints, ","), timeout, err)
	}
	return cli, nil
}

// OpenEtcd returns the store of one service under prefix (which ends in
// "/", such as "/selfserve/licensing/"). Buckets need no creating on etcd;
// the list is what Backup copies.
func OpenEtcd(cli *clientv3.Client, prefix string, buckets ...[]byte) (*Etcd, error) {
	if !strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("etcd prefix %q must end with /", prefix)
	}
	for _, b := range buckets {
		if strings.ContainsAny(string(b), "/!") || len(b) == 0 {
			return nil, fmt.Errorf("bucket name %q may not be empty or hold / or !", b)
		}
	}
	return &Etcd{cli: cli, prefix: prefix, OpTimeout: 5 * time.Second, RetryFor: 8 * time.Second, seqs: map[string]*seqBlock{}}, nil
}

// ServicePrefix is the key prefix of a service's store: /selfserve/NAME/.
func ServicePrefix(service string) string { return "/selfserve/" + service + "/" }

// CloseClient makes Close close the etcd client as well.
func (s *Etcd) CloseClient() *Etcd { s.closeClient = true; return s }

// Client is the etcd client, for leader elections and watches.
func (s *Etcd) Client() *clientv3.Client { return s.cli }

// Name is the store's name in metrics: the last element of its prefix (the
// service's).
func (s *Etcd) Name() string {
	p := strings.TrimSuffix(s.prefix, "/")
	return p[strings.LastIndex(p, "/")+1:]
}

// Prefix is the store's key prefix.
func (s *Etcd) Prefix() string { return s.prefix }

// Close implements DB.
func (s *Etcd) Close() error {
	if s.closeClient {
		return s.cli.Close()
	}
	return nil
}

// Backend implements DB.
func (s *Etcd) Backend() string { return "etcd" }

// View implements DB.
func (s *Etcd) View(fn func(Tx) error) error {
	tx := s.begin(false)
	err := fn(tx)
	if tx.err != nil {
		return tx.err
	}
	return err
}

// Update implements DB.
//
// First attempts run side by side (each holding the store's gate shared).
// A call that lost to a conflict retries holding the gate alone: it waits
// for the attempts in flight, and no new one starts until it is done. So
// within one replica the writers that collided on a hot key (a pool that
// every assign updates) go one at a time instead of colliding again, no
// retry starves, and only other replicas' writes can make one lose.
func (s *Etcd) Update(fn func(Tx) error) error {
	start := time.Now()
	deadline := start.Add(s.RetryFor)
	s.gate.RLock()
	alone := false
	defer func() {
		if alone {
			s.gate.Unlock()
		} else {
			s.gate.RUnlock()
		}
	}()
	for attempt := 0; ; attempt++ {
		if attempt == 1 {
			s.gate.RUnlock()
			s.gate.Lock()
			alone = true
		}
		tx := s.begin(true)
		err := fn(tx)
		if tx.err != nil {
			return tx.err
		}
		if err != nil {
			return err
		}
		ok, err := tx.commit()
		if err != nil {
			return err
		}
		if ok {
			metrics.ObserveCommit(s.Name(), "etcd", start, 1)
			return nil
		}
		if time.Now().After(deadline) {
			return tooManyConflicts(attempt)
		}
		if attempt > 0 {
			// Still losing under the lock: to another replica. Wait a
			// little, at random, so that the replicas spread out.
			d := time.Duration(min(attempt, 20)) * time.Millisecond
			time.Sleep(time.Duration(rand.Int64N(int64(d))) + 100*time.Microsecond)
		}
	}
}

func (s *Etcd) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.OpTimeout)
}

func (s *Etcd) bucketPrefix(name []byte) string { return s.prefix + string(name) + "/" }

// seqKey holds the last sequence number handed out of a bucket.
func (s *Etcd) seqKey(bucket string) string { return s.prefix + "!seq/" + bucket }

// nextSequence hands out a number of the replica's current block, taking a
// new block from etcd (in a transaction of its own, so that rival writers
// never conflict on it) when that one is used up.
func (s *Etcd) nextSequence(bucket string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.seqs[bucket]
	if b == nil || b.next > b.last {
		first, err := s.takeSequence(bucket, SeqBlock)
		if err != nil {
			return 0, err
		}
		b = &seqBlock{next: first, last: first + SeqBlock - 1}
		s.seqs[bucket] = b
	}
	n := b.next
	b.next++
	return n, nil
}

// takeSequence reserves n numbers of a bucket's sequence and returns the first.
func (s *Etcd) takeSequence(bucket string, n uint64) (uint64, error) {
	key := s.seqKey(bucket)
	for range 1000 {
		ctx, cancel := s.ctx()
		r, err := s.cli.Get(ctx, key)
		if err != nil {
			cancel()
			return 0, unavailable(err)
		}
		var cur uint64
		var mod int64
		if len(r.Kvs) == 1 {
			cur = decodeSeq(r.Kvs[0].Value)
			mod = r.Kvs[0].ModRevision
		}
		t, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", mod)).
			Then(clientv3.OpPut(key, string(encodeSeq(cur+n)))).Commit()
		cancel()
		if err != nil {
			return 0, unavailable(err)
		}
		if t.Succeeded {
			return cur + 1, nil
		}
	}
	return 0, tooManyConflicts(1000)
}

// setSequence raises a bucket's sequence to at least n (migrations).
func (s *Etcd) setSequence(ctx context.Context, bucket string, n uint64) error {
	_, err := s.cli.Put(ctx, s.seqKey(bucket), string(encodeSeq(n)))
	return err
}

func encodeSeq(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func decodeSeq(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// etcdTx is one transaction: its snapshot revision, what it read (for the
// compares) and what it will write.
type etcdTx struct {
	s        *Etcd
	writable bool
	rev      int64 // snapshot; 0 until the first read
	err      error // the first failure to reach etcd; the transaction is void
	reads    map[string]readEntry
	ranges   []keyRange
	writes   map[string]writeEntry
	order    map[string][]string // bucket prefix → written keys, sorted
}

type readEntry struct {
	value []byte
	mod   int64 // 0: absent
	// ranged entries came from a cursor; a Get of one adds its own compare.
	ranged bool
	point  bool
}

type writeEntry struct {
	value []byte
	del   bool
}

type keyRange struct{ start, end string }

func (s *Etcd) begin(writable bool) *etcdTx {
	return &etcdTx{s: s, writable: writable, reads: map[string]readEntry{}}
}

func (t *etcdTx) Writable() bool { return t.writable }

func (t *etcdTx) Bucket(name []byte) Bucket {
	return &etcdBucket{tx: t, name: string(name), prefix: t.s.bucketPrefix(name)}
}

// fail records the first error reaching etcd; later reads answer nothing.
func (t *etcdTx) fail(err error) {
	if t.err == nil {
		t.err = unavailable(err)
	}
}

// read sends a range request at the snapshot. The first read of a
// transaction is linearizable and fixes the snapshot at the revision it saw;
// later ones ask for that revision of whichever member answers, without a
// round through the leader (serializable: a member that has applied the
// revision holds exactly that state), and fall back to a linearizable read
// from a member that has not applied it yet.
func (t *etcdTx) read(key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	ctx, cancel := t.s.ctx()
	defer cancel()
	if t.rev == 0 {
		r, err := t.s.cli.Get(ctx, key, opts...)
		if err == nil {
			t.rev = r.Header.Revision
		}
		return r, err
	}
	opts = append(opts, clientv3.WithRev(t.rev))
	r, err := t.s.cli.Get(ctx, key, append(opts, clientv3.WithSerializable())...)
	if errors.Is(err, rpctypes.ErrFutureRev) {
		r, err = t.s.cli.Get(ctx, key, opts...)
	}
	return r, err
}

// get reads one key at the snapshot.
func (t *etcdTx) get(key string) []byte {
	if w, ok := t.writes[key]; ok {
		if w.del {
			return nil
		}
		return w.value
	}
	if r, ok := t.reads[key]; ok {
		if r.ranged && !r.point {
			r.point = true
			t.reads[key] = r
		}
		return r.value
	}
	if t.err != nil {
		return nil
	}
	r, err := t.read(key)
	if err != nil {
		t.fail(err)
		return nil
	}
	e := readEntry{point: true}
	if len(r.Kvs) == 1 {
		e.value, e.mod = present(r.Kvs[0].Value), r.Kvs[0].ModRevision
	}
	t.reads[key] = e
	return e.value
}

// scan reads up to limit keys of [start, end) at the snapshot, ascending or
// descending, and records the range it covered for the commit's compares.
func (t *etcdTx) scan(start, end string, limit int64, desc bool) (kvs []*mvccpb.KeyValue, more bool) {
	if t.err != nil {
		return nil, false
	}
	opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(limit)}
	if desc {
		opts = append(opts, clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
	}
	r, err := t.read(start, opts...)
	if err != nil {
		t.fail(err)
		return nil, false
	}
	kvs, more = r.Kvs, r.More
	// The part of the range these keys vouch for.
	covered := keyRange{start, end}
	if more && len(kvs) > 0 {
		last := string(kvs[len(kvs)-1].Key)
		if desc {
			covered.start = last
		} else {
			covered.end = last + "\x00"
		}
	}
	if t.writable {
		t.ranges = append(t.ranges, covered)
	}
	for _, kv := range kvs {
		kv.Value = present(kv.Value)
		if !t.writable {
			continue
		}
		if k := string(kv.Key); t.reads[k].mod == 0 {
			t.reads[k] = readEntry{value: kv.Value, mod: kv.ModRevision, ranged: true}
		}
	}
	return kvs, more
}

func (t *etcdTx) put(bucketPrefix, key string, value []byte, del bool) error {
	if !t.writable {
		return errors.New("kv: write in a read-only transaction")
	}
	if t.writes == nil {
		t.writes = map[string]writeEntry{}
		t.order = map[string][]string{}
	}
	if _, ok := t.writes[key]; !ok {
		ks := t.order[bucketPrefix]
		i, _ := slices.BinarySearch(ks, key)
		t.order[bucketPrefix] = slices.Insert(ks, i, key)
	}
	t.writes[key] = writeEntry{value: value, del: del}
	return nil
}

// commit writes the buffered changes if nothing read has changed since the
// snapshot; false when something has (the caller runs again).
func (t *etcdTx) commit() (bool, error) {
	if len(t.writes) == 0 {
		return true, nil
	}
	var cmps []clientv3.Cmp
	if t.rev > 0 {
		for k, r := range t.reads {
			if r.point {
				cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", r.mod))
			}
		}
		for _, r := range mergeRanges(t.ranges) {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(r.start), "<", t.rev+1).WithRange(r.end))
		}
	}
	ops := make([]clientv3.Op, 0, len(t.writes))
	for k, w := range t.writes {
		if w.del {
			ops = append(ops, clientv3.OpDelete(k))
		} else {
			ops = append(ops, clientv3.OpPut(k, string(w.value)))
		}
	}
	ctx, cancel := t.s.ctx()
	defer cancel()
	r, err := t.s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return false, unavailable(err)
	}
	return r.Succeeded, nil
}

// present is a stored value as bbolt gives it: never nil, even when empty.
func present(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

// mergeRanges joins overlapping or touching ranges: fewer compares.
func mergeRanges(rs []keyRange) []keyRange {
	if len(rs) < 2 {
		return rs
	}
	rs = slices.Clone(rs)
	sort.Slice(rs, func(i, j int) bool { return rs[i].start < rs[j].start })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if r.start <= last.end {
			last.end = max(last.end, r.end)
			continue
		}
		out = append(out, r)
	}
	return out
}

type etcdBucket struct {
	tx     *etcdTx
	name   string
	prefix string
}

func (b *etcdBucket) Get(key []byte) []byte { return b.tx.get(b.prefix + string(key)) }

func (b *etcdBucket) Put(key, value []byte) error {
	if len(key) == 0 {
		return errors.New("kv: empty key")
	}
	return b.tx.put(b.prefix, b.prefix+string(key), append([]byte{}, value...), false)
}

func (b *etcdBucket) Delete(key []byte) error {
	return b.tx.put(b.prefix, b.prefix+string(key), nil, true)
}

func (b *etcdBucket) NextSequence() (uint64, error) {
	if !b.tx.writable {
		return 0, errors.New("kv: NextSequence in a read-only transaction")
	}
	return b.tx.s.nextSequence(b.name)
}

func (b *etcdBucket) ForEach(fn func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return b.tx.err
}

func (b *etcdBucket) Cursor() Cursor {
	return &etcdCursor{tx: b.tx, prefix: b.prefix, end: b.prefix[:len(b.prefix)-1] + "0"}
}

// etcdCursor walks one bucket: the keys of the snapshot, fetched a batch at
// a time in the direction of travel, merged with the transaction's writes.
type etcdCursor struct {
	tx          *etcdTx
	prefix, end string // the bucket's keys are [prefix, end)

	pos   string // current full key; "" before the first or after the last
	batch int64

	// buf holds keys of the snapshot in the direction desc, all of those in
	// (from, to) when ascending, with done when it reaches the bucket's end.
	buf  []*mvccpb.KeyValue
	desc bool
	from string // ascending: buf covers keys > from (or >= when incl)
	incl bool
	done bool
	ok   bool
}

const (
	firstBatch = 2
	maxBatch   = 1024
)

func (c *etcdCursor) nextBatch() int64 {
	if c.batch == 0 {
		c.batch = firstBatch
	} else {
		c.batch = min(4*c.batch, maxBatch)
	}
	return c.batch
}

// snapAfter returns the first snapshot key after pos (at pos when incl).
func (c *etcdCursor) snapAfter(pos string, incl bool) *mvccpb.KeyValue {
	for {
		if c.ok && !c.desc && (c.from < pos || c.from == pos && (c.incl || !incl)) {
			i := sort.Search(len(c.buf), func(i int) bool {
				k := string(c.buf[i].Key)
				return k > pos || incl && k == pos
			})
			if i < len(c.buf) {
				return c.buf[i]
			}
			if c.done {
				return nil
			}
		}
		start := pos
		if !incl {
			start = pos + "\x00"
		}
		kvs, more := c.tx.scan(start, c.end, c.nextBatch(), false)
		c.buf, c.desc, c.from, c.incl, c.done, c.ok = kvs, false, pos, incl, !more, c.tx.err == nil
		if !c.ok {
			return nil
		}
	}
}

// snapBefore returns the last snapshot key before pos.
func (c *etcdCursor) snapBefore(pos string) *mvccpb.KeyValue {
	for {
		if c.ok && c.desc && c.from >= pos {
			i := sort.Search(len(c.buf), func(i int) bool { return string(c.buf[i].Key) < pos })
			if i < len(c.buf) {
				return c.buf[i]
			}
			if c.done {
				return nil
			}
		}
		kvs, more := c.tx.scan(c.prefix, pos, c.nextBatch(), true)
		c.buf, c.desc, c.from, c.done, c.ok = kvs, true, pos, !more, c.tx.err == nil
		if !c.ok {
			return nil
		}
	}
}

// forward moves to the first key after pos (at pos when incl) of the
// transaction's view: snapshot keys not written over, and written keys.
func (c *etcdCursor) forward(pos string, incl bool) ([]byte, []byte) {
	written := c.tx.order[c.prefix]
	for {
		s := c.snapAfter(pos, incl)
		i := sort.Search(len(written), func(i int) bool { return written[i] > pos || incl && written[i] == pos })
		switch {
		case i < len(written) && (s == nil || written[i] <= string(s.Key)):
			k := written[i]
			if w := c.tx.writes[k]; !w.del {
				return c.at(k, w.value)
			}
			pos, incl = k, false // deleted here: skip it
		case s != nil:
			return c.at(string(s.Key), s.Value)
		default:
			return c.at("", nil)
		}
	}
}

// backward moves to the last key before pos (the bucket's end when pos is "").
func (c *etcdCursor) backward(pos string) ([]byte, []byte) {
	if pos == "" {
		pos = c.end
	}
	written := c.tx.order[c.prefix]
	for {
		s := c.snapBefore(pos)
		i := sort.Search(len(written), func(i int) bool { return written[i] >= pos }) - 1
		switch {
		case i >= 0 && (s == nil || written[i] >= string(s.Key)):
			k := written[i]
			if w := c.tx.writes[k]; !w.del {
				return c.at(k, w.value)
			}
			pos = k
		case s != nil:
			return c.at(string(s.Key), s.Value)
		default:
			return c.at("", nil)
		}
	}
}

func (c *etcdCursor) at(full string, v []byte) ([]byte, []byte) {
	c.pos = full
	if full == "" || c.tx.err != nil {
		c.pos = ""
		return nil, nil
	}
	return []byte(full[len(c.prefix):]), present(v)
}

func (c *etcdCursor) First() ([]byte, []byte) { return c.forward(c.prefix, true) }
func (c *etcdCursor) Last() ([]byte, []byte)  { return c.backward("") }

func (c *etcdCursor) Seek(seek []byte) ([]byte, []byte) {
	return c.forward(c.prefix+string(seek), true)
}

func (c *etcdCursor) Next() ([]byte, []byte) {
	if c.pos == "" {
		return nil, nil
	}
	return c.forward(c.pos, false)
}

func (c *etcdCursor) Prev() ([]byte, []byte) {
	if c.pos == "" {
		return nil, nil
	}
	return c.backward(c.pos)
}

// count counts the bucket's keys at the snapshot with one count-only range
// request; with writes of its own pending, it walks the merged view.
func (b *etcdBucket) count() int {
	if len(b.tx.order[b.prefix]) > 0 {
		n := 0
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			n++
		}
		return n
	}
	t := b.tx
	if t.err != nil {
		return 0
	}
	r, err := t.read(b.prefix, clientv3.WithRange(b.prefix[:len(b.prefix)-1]+"0"), clientv3.WithCountOnly())
	if err != nil {
		t.fail(err)
		return 0
	}
	if t.writable {
		t.ranges = append(t.ranges, keyRange{b.prefix, b.prefix[:len(b.prefix)-1] + "0"})
	}
	return int(r.Count)
}

// WriteBackup implements Backup: every key of the store's buckets at one
// revision of the cluster, copied into a new bbolt file of the same buckets
// and sequences (a store that OpenBolt opens, or that Migrate loads back),
// which is then written to w.
func (s *Etcd) WriteBackup(w BackupWriter) error {
	f, err := os.CreateTemp("", "selfserve-etcd-backup-*.db")
	if err != nil {
		return err
	}
	path := f.Name()
	f.Close()
	os.Remove(path)
	defer os.Remove(path)
	out, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	defer out.Close()
	if err := s.copyTo(out); err != nil {
		return err
	}
	return out.View(func(tx *bolt.Tx) error {
		w.Size(tx.Size())
		_, err := tx.WriteTo(w)
		return err
	})
}

// copyTo writes the prefix, as of one revision, into a bbolt file: a bucket
// per name under the prefix, and each bucket's sequence.
func (s *Etcd) copyTo(out *bolt.DB) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	end := clientv3.GetPrefixRangeEnd(s.prefix)
	var rev int64
	from := s.prefix
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(2000)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		r, err := s.cli.Get(ctx, from, opts...)
		if err != nil {
			return unavailable(err)
		}
		if rev == 0 {
			rev = r.Header.Revision
		}
		err = out.Update(func(tx *bolt.Tx) error {
			for _, kv := range r.Kvs {
				rest := string(kv.Key[len(s.prefix):])
				if name, ok := strings.CutPrefix(rest, "!seq/"); ok {
					b, err := tx.CreateBucketIfNotExists([]byte(name))
					if err != nil {
						return err
					}
					if err := b.SetSequence(decodeSeq(kv.Value)); err != nil {
						return err
					}
					continue
				}
				name, key, ok := strings.Cut(rest, "/")
				if !ok || strings.HasPrefix(name, "!") {
					continue // the leader's election and other bookkeeping
				}
				b, err := tx.CreateBucketIfNotExists([]byte(name))
				if err != nil {
					return err
				}
				if err := b.Put([]byte(key), present(kv.Value)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !r.More || len(r.Kvs) == 0 {
			return out.Sync()
		}
		from = string(r.Kvs[len(r.Kvs)-1].Key) + "\x00"
	}
}

// Empty reports whether nothing is stored under the prefix.
func (s *Etcd) Empty() (bool, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	r, err := s.cli.Get(ctx, s.prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return false, unavailable(err)
	}
	return r.Count == 0, nil
}

// LoadBatch is how many keys one transaction of Load writes, well under the
// cluster's --max-txn-ops.
const LoadBatch = 500

// Load copies every bucket of a bbolt file into the prefix, which must be
// empty (see Empty), in transactions of at most batch keys, and sets each
// bucket's sequence to the file's. It returns the number of keys copied.
func (s *Etcd) Load(src *bolt.DB, batch int) (int, error) {
	if empty, err := s.Empty(); err != nil || !empty {
		if err == nil {
			err = fmt.Errorf("etcd prefix %s is not empty: refusing to overwrite it", s.prefix)
		}
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	n := 0
	var ops []clientv3.Op
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		_, err := s.cli.Txn(ctx).Then(ops...).Commit()
		ops = ops[:0]
		if err != nil {
			return unavailable(err)
		}
		return nil
	}
	err := src.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if seq := b.Sequence(); seq > 0 {
				if err := s.setSequence(ctx, string(name), seq); err != nil {
					return unavailable(err)
				}
			}
			prefix := s.bucketPrefix(name)
			return b.ForEach(func(k, v []byte) error {
				if v == nil {
					return nil // a nested bucket: the stores have none
				}
				ops = append(ops, clientv3.OpPut(prefix+string(k), string(v)))
				n++
				if len(ops) >= batch {
					return flush()
				}
				return nil
			})
		})
	})
	if err != nil {
		return n, err
	}
	return n, flush()
}

// Etcds opens each service's store under its prefix (ServicePrefix) of one
// etcd cluster.
func Etcds(cli *clientv3.Client) Opener {
	return func(service string, buckets ...[]byte) (DB, error) {
		return OpenEtcd(cli, ServicePrefix(service), buckets...)
	}
}

// WatchClock calls fn with each position of a manual clock that another
// replica stores, until the client closes. On bbolt, where one process owns
// the store, it does nothing.
func WatchClock(db DB, fn func(time.Time)) {
	s, ok := db.(*Etcd)
	if !ok {
		return
	}
	key := s.bucketPrefix(Meta) + string(clockKey)
	go func() {
		for r := range s.cli.Watch(clientv3.WithRequireLeader(context.Background()), key) {
			for _, ev := range r.Events {
				var t time.Time
				if ev.Type == clientv3.EventTypePut && t.UnmarshalBinary(ev.Kv.Value) == nil {
					fn(t.UTC())
				}
			}
		}
	}()
}

// Ref names one key of one bucket.
type Ref struct{ Bucket, Key []byte }

// Prefetches reports whether Prefetch saves anything on tx's store: on etcd,
// where each read is a round trip; not on bbolt, where a read is a lookup
// in memory.
func Prefetches(tx Tx) bool {
	_, ok := tx.(*etcdTx)
	return ok
}

// prefetchChunk bounds the reads of one prefetch request (etcd's default
// --max-txn-ops is 128).
const prefetchChunk = 100

// Prefetch reads keys the transaction is about to Get in one round trip per
// hundred keys (a read-only etcd Txn at the snapshot), so that a page of
// items costs one request instead of one per item. The Gets that follow are
// answered from what it read. On bbolt it does nothing.
func Prefetch(tx Tx, refs ...Ref) {
	t, ok := tx.(*etcdTx)
	if !ok || t.err != nil {
		return
	}
	var keys []string
	for _, r := range refs {
		k := t.s.bucketPrefix(r.Bucket) + string(r.Key)
		if _, read := t.reads[k]; read {
			continue
		}
		if _, written := t.writes[k]; written {
			continue
		}
		keys = append(keys, k)
	}
	for len(keys) > 0 {
		n := min(len(keys), prefetchChunk)
		chunk := keys[:n]
		keys = keys[n:]
		ops := make([]clientv3.Op, len(chunk))
		for i, k := range chunk {
			if t.rev > 0 {
				ops[i] = clientv3.OpGet(k, clientv3.WithRev(t.rev), clientv3.WithSerializable())
			} else {
				ops[i] = clientv3.OpGet(k)
			}
		}
		ctx, cancel := t.s.ctx()
		r, err := t.s.cli.Txn(ctx).Then(ops...).Commit()
		if errors.Is(err, rpctypes.ErrFutureRev) {
			for i, k := range chunk {
				ops[i] = clientv3.OpGet(k, clientv3.WithRev(t.rev))
			}
			r, err = t.s.cli.Txn(ctx).Then(ops...).Commit()
		}
		cancel()
		if err != nil {
			t.fail(err)
			return
		}
		if t.rev == 0 {
			t.rev = r.Header.Revision
		}
		for i, resp := range r.Responses {
			e := readEntry{point: true}
			if rr := resp.GetResponseRange(); rr != nil && len(rr.Kvs) == 1 {
				e.value, e.mod = present(rr.Kvs[0].Value), rr.Kvs[0].ModRevision
			}
			t.reads[chunk[i]] = e
		}
	}
}
