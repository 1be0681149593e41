package posture

// bandRank places bands for the bound on reordering. Adjacent bands are one
// step apart, except CRITICAL, which stands two steps above HIGH: nothing
// the rules score CRITICAL may be shown below a HIGH group, while HIGH and
// MEDIUM, or MEDIUM and LOW, may trade places.
func bandRank(b Band) int {
	switch b {
	case BandCritical:
		return 4
	case BandHigh:
		return 2
	case BandMedium:
		return 1
	}
	return 0
}

// BoundOrder applies an advisor's proposed order (an LLM's, say) to groups
// the rules ranked, within the rules' bounds. bands are the groups' bands in
// the rules' order; proposed lists indexes into bands, best first. Indexes
// out of range or repeated are ignored, and indexes left out keep their
// rules place: leaving a group out cannot demote it.
//
// The bound: a group may move within its band, and a HIGH, MEDIUM or LOW
// group across one band (a MEDIUM above a HIGH, a LOW above a MEDIUM), but
// a CRITICAL group is never shown below any group that is not CRITICAL,
// and no group below one two or more bands lower. Within that, the result
// follows the proposal as closely as a greedy choice allows: at each place
// it takes the proposal's next group unless that would put it above a group
// it may not pass, in which case the highest remaining groups go first and
// the blocked group is reported in refused (once each, as an index).
//
// Nothing here reads a score, so nothing an advisor says changes one; the
// result is always a permutation of 0..len(bands)-1.
func BoundOrder(bands []Band, proposed []int) (order, refused []int) {
	n := len(bands)
	seen := make([]bool, n)
	prop := make([]int, 0, n)
	for _, i := range proposed {
		if i < 0 || i >= n || seen[i] {
			continue
		}
		seen[i] = true
		prop = append(prop, i)
	}
	// Left-out groups go back at their rules index.
	for i := 0; i < n; i++ {
		if seen[i] {
			continue
		}
		at := min(i, len(prop))
		prop = append(prop, 0)
		copy(prop[at+1:], prop[at:])
		prop[at] = i
	}

	order = make([]int, 0, n)
	blocked := make([]bool, n)
	for len(prop) > 0 {
		top := 0
		for _, i := range prop {
			top = max(top, bandRank(bands[i]))
		}
		pick := 0
		for pick < len(prop) && bandRank(bands[prop[pick]]) < top-1 {
			if !blocked[prop[pick]] {
				blocked[prop[pick]] = true
				refused = append(refused, prop[pick])
			}
			pick++
		}
		order = append(order, prop[pick])
		prop = append(prop[:pick], prop[pick+1:]...)
	}
	return order, refused
}
