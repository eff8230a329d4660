package money

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
	"time"
)

// Split allocates total in parts proportional to weights, by the largest
// remainder method: each part gets the floor of its exact share, then the
// units still missing go one each to the parts with the largest remainders,
// the lower index winning a tie. The parts always sum to total, and a zero
// weight always gets zero.
//
// A negative total is split by its magnitude and every part negated, so a
// refund mirrors the charge. Weights must be non-negative with a positive
// sum that fits in a uint64; products are taken in 128 bits, so any int64
// total works. No weights is valid only for a zero total: otherwise the
// amount would vanish.
func Split(total int64, weights []int64) ([]int64, error) {
	if len(weights) == 0 {
		if total != 0 {
			return nil, fmt.Errorf("%w: %d over no weights", ErrInvalidSplit, total)
		}
		return []int64{}, nil
	}
	var sum uint64
	for i, w := range weights {
		if w < 0 {
			return nil, fmt.Errorf("%w: weight %d is negative (%d)", ErrInvalidSplit, i, w)
		}
		var carry uint64
		sum, carry = bits.Add64(sum, uint64(w), 0)
		if carry != 0 {
			return nil, fmt.Errorf("%w: weights sum past 2^64", ErrInvalidSplit)
		}
	}
	if sum == 0 {
		return nil, fmt.Errorf("%w: weights sum to zero", ErrInvalidSplit)
	}

	mag := magnitude(total)
	shares := make([]uint64, len(weights))
	rems := make([]uint64, len(weights))
	var given uint64
	for i, w := range weights {
		// hi < sum holds because mag < 2^64 and w <= sum, so Div64 cannot
		// panic, and the quotient is at most mag.
		hi, lo := bits.Mul64(mag, uint64(w))
		shares[i], rems[i] = bits.Div64(hi, lo, sum)
		given += shares[i]
	}
	// The floors fall short by fewer units than there are parts.
	if left := mag - given; left > 0 {
		order := make([]int, len(weights))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int {
			if c := cmp.Compare(rems[b], rems[a]); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		for _, i := range order[:left] {
			shares[i]++
		}
	}

	parts := make([]int64, len(weights))
	for i, s := range shares {
		if total < 0 {
			parts[i] = int64(-s) // two's complement: exact even for 2^63
		} else {
			parts[i] = int64(s)
		}
	}
	return parts, nil
}

// Prorate is the share of amount that part of a period of length whole
// earns, such that Prorate(a, p, w) + Prorate(a, w-p, w) == a: the charge
// for the rest of a term and the credit for the used part never gain or
// lose a unit between them.
//
// It is Split(amount, [part, whole-part]) with the smaller duration's share
// taken from Split and the larger's as the complement. Taking Split's first
// share literally would break the sum on a half-unit tie (2 over 1s of 4s:
// both 1s and 3s would win the tie), since Split favours the lower index.
// The one case no rule can fix is part exactly half of whole with an odd
// amount: then both calls are the same call, and the half-unit goes to it.
// Use Split when both halves are needed.
//
// Durations are used to the nanosecond; the API prorates to the second, so
// callers truncate both to seconds first (time.Duration.Truncate). part must
// be within [0, whole] and whole positive.
func Prorate(amount int64, part, whole time.Duration) (int64, error) {
	if whole <= 0 || part < 0 || part > whole {
		return 0, fmt.Errorf("%w: %v of %v", ErrInvalidPeriod, part, whole)
	}
	rest := whole - part
	if part <= rest {
		parts, err := Split(amount, []int64{int64(part), int64(rest)})
		if err != nil {
			return 0, err
		}
		return parts[0], nil
	}
	parts, err := Split(amount, []int64{int64(rest), int64(part)})
	if err != nil {
		return 0, err
	}
	return parts[1], nil
}

// MulQuantity is the price of quantity units at unitMinor each, refusing to
// wrap around.
func MulQuantity(unitMinor, quantity int64) (int64, error) {
	hi, lo := bits.Mul64(magnitude(unitMinor), magnitude(quantity))
	neg := (unitMinor < 0) != (quantity < 0)
	// A negative product may reach 2^63 in magnitude; a positive one not.
	limit := uint64(1<<63 - 1)
	if neg {
		limit = 1 << 63
	}
	if hi != 0 || lo > limit {
		return 0, fmt.Errorf("%w: %d × %d", ErrOverflow, unitMinor, quantity)
	}
	if neg {
		return int64(-lo), nil
	}
	return int64(lo), nil
}
