package store

// SubscriptionMetaBucket lets the golden test of the stored meta write and
// read its bytes as they lie in the store.
var SubscriptionMetaBucket = subscriptionMeta
