package posture

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBoundOrder(t *testing.T) {
	C, H, M, L := BandCritical, BandHigh, BandMedium, BandLow
	tests := []struct {
		name        string
		bands       []Band
		proposed    []int
		want        []int
		wantRefused []int
	}{
		{"rules order kept", []Band{C, H, M, L}, []int{0, 1, 2, 3}, []int{0, 1, 2, 3}, nil},
		{"swap within a band", []Band{H, H, M}, []int{1, 0, 2}, []int{1, 0, 2}, nil},
		{"high across medium", []Band{H, M, M, L}, []int{1, 2, 0, 3}, []int{1, 2, 0, 3}, nil},
		{"critical stays above high", []Band{C, H, H, M}, []int{1, 2, 0, 3}, []int{0, 1, 2, 3}, []int{1, 2}},
		{"critical reordered among itself", []Band{C, C, H}, []int{1, 0, 2}, []int{1, 0, 2}, nil},
		{"medium above high is fine", []Band{H, M}, []int{1, 0}, []int{1, 0}, nil},
		{"critical never below medium", []Band{C, H, M, L}, []int{1, 2, 3, 0}, []int{0, 1, 2, 3}, []int{1, 2, 3}},
		{"low cannot jump critical", []Band{C, C, L}, []int{2, 0, 1}, []int{0, 1, 2}, []int{2}},
		{"medium above high, low stays below high", []Band{H, M, L}, []int{2, 1, 0}, []int{1, 0, 2}, []int{2}},
		{"left out keeps its rules place", []Band{C, H, M, L}, []int{3, 2, 1}, []int{0, 2, 1, 3}, []int{3}},
		{"nothing proposed", []Band{C, M}, nil, []int{0, 1}, nil},
		{"junk ignored", []Band{H, H}, []int{7, -1, 1, 1, 0}, []int{1, 0}, nil},
		{"empty", nil, []int{0}, []int{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, refused := BoundOrder(tt.bands, tt.proposed)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("order (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantRefused, refused); d != "" {
				t.Errorf("refused (-want +got):\n%s", d)
			}
		})
	}
}

// Over random bands and proposals: the result is a permutation, no group is
// ever below one two bands lower, and a proposal that already keeps the
// bound is taken as it is.
func TestBoundOrderProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	all := []Band{BandCritical, BandHigh, BandMedium, BandLow}
	for iter := 0; iter < 5000; iter++ {
		n := rng.IntN(25)
		bands := make([]Band, n)
		for i := range bands {
			bands[i] = all[rng.IntN(len(all))]
		}
		slices.SortStableFunc(bands, func(a, b Band) int { return bandRank(b) - bandRank(a) })
		prop := rng.Perm(n)
		got, _ := BoundOrder(bands, prop)
		if s := slices.Sorted(slices.Values(got)); len(s) != n || !isIota(s) {
			t.Fatalf("not a permutation: %v", got)
		}
		if !keepsBound(bands, got) {
			t.Fatalf("bound broken: bands %v proposal %v result %v", bands, prop, got)
		}
		if keepsBound(bands, prop) {
			if again, refused := BoundOrder(bands, prop); !slices.Equal(again, prop) || len(refused) != 0 {
				t.Fatalf("a valid proposal was changed: %v -> %v (refused %v)", prop, again, refused)
			}
		}
	}
}

func isIota(s []int) bool {
	for i, v := range s {
		if v != i {
			return false
		}
	}
	return true
}

func keepsBound(bands []Band, order []int) bool {
	for i := range order {
		for j := i + 1; j < len(order); j++ {
			if bandRank(bands[order[j]]) >= bandRank(bands[order[i]])+2 {
				return false
			}
		}
	}
	return true
}
