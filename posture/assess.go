package posture

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"
)

// AssessOptions are the inputs of Assess besides the findings.
type AssessOptions struct {
	Catalogue *Catalogue  // nil = DefaultCatalogue()
	Context   *ContextMap // nil = resource tags only
	Now       time.Time   // zero disables the age factor
}

// Assessment is the scored, grouped and ranked view of one pull. It is
// read-only after Assess and safe for concurrent use.
type Assessment struct {
	// Scored holds every finding, open or closed, ranked by Raw (then id).
	Scored []Scored
	// Groups holds every open finding exactly once, ranked by Score, then Raw
	// (then id).
	Groups []Group

	findings []Finding // Assess's own copy; Scored points into it
	groupOf  []int32   // Scored index -> Groups index, -1 when not ranked

	indexOnce  sync.Once
	byID       map[string]int32 // F- id and source ids -> Scored index
	groupByID  map[string]int32
	byResource map[resKey][]int32 // every finding, open or closed, in rank order
}

type resKey struct{ provider, account, resource string }

type clusterKey struct {
	provider, check, rule, account string
	env                            Environment
}

// chain is a singly linked list of Scored indices threaded through a shared
// next array, so grouping 100,000 findings allocates no slice per group.
type chain struct{ head, tail, n int32 }

// link appends finding i to the chain under k: next[i] threads the members
// of one group through the scored slice without a slice per group.
func link[K comparable](m map[K]chain, k K, i int32, next []int32) {
	c, ok := m[k]
	if !ok {
		c = chain{head: i, tail: i}
	} else {
		next[c.tail] = i
		c.tail = i
	}
	c.n++
	m[k] = c
}

// factorBlock is how many factors are carved from one allocation.
const factorBlock = 8192

// Assess scores, groups and ranks findings. It copies the slice (not the
// tag maps or raw records, which it only reads), so the caller may reuse it.
func Assess(findings []Finding, opt AssessOptions) *Assessment {
	cat := opt.Catalogue
	if cat == nil {
		cat = DefaultCatalogue()
	}
	sc := Scorer{Catalogue: cat, Now: opt.Now}
	n := len(findings)
	a := &Assessment{Scored: make([]Scored, n)}
	scored := a.Scored // input order for now; ranked in place below
	trait := make([]traits, n)

	// Traits are a pure function of the check: compute once per kind.
	type kind struct {
		ch *Check
		t  traits
	}
	kinds := make(map[string]kind, 64)
	var block []Factor
	var scratch [16]Factor
	for i := range findings {
		f := &findings[i] // read only; repointed to our copy below
		k, ok := kinds[f.Check]
		if !ok {
			ch, found := cat.Lookup(f.Check)
			if !found {
				ch = cat.Generic()
			}
			k = kind{ch, checkTraits(ch)}
			kinds[f.Check] = k
		}
		s := sc.score(f, k.ch, k.t, opt.Context.Attribute(f), scratch[:0])
		if cap(block)-len(block) < len(s.Factors) {
			block = make([]Factor, 0, factorBlock)
		}
		start := len(block)
		block = append(block, s.Factors...)
		s.Factors = block[start:len(block):len(block)]
		scored[i] = s
		trait[i] = k.t
	}

	// Rank through compact keys: sorting 100,000 large structs would move
	// them at every swap, and comparing through pointers misses the cache.
	type rankKey struct {
		raw float64
		id  string
		idx int32
	}
	keys := make([]rankKey, n)
	for i := range scored {
		keys[i] = rankKey{scored[i].Raw, scored[i].Finding.ID, int32(i)}
	}
	slices.SortFunc(keys, func(x, y rankKey) int {
		if x.raw != y.raw {
			return cmp.Compare(y.raw, x.raw)
		}
		if x.id != y.id {
			return strings.Compare(x.id, y.id)
		}
		if c := scoredCompare(&scored[x.idx], &scored[y.idx]); c != 0 {
			return c
		}
		return cmp.Compare(x.idx, y.idx)
	})
	// Our own copy of the findings, in rank order so the grouping passes
	// below walk memory forwards.
	a.findings = make([]Finding, n)
	ranked := make([]traits, n)
	perm := make([]int32, n)
	for i, k := range keys {
		a.findings[i] = findings[k.idx]
		ranked[i] = trait[k.idx]
		perm[i] = k.idx
	}
	keys, trait = nil, nil
	// Put Scored in rank order in place, following each cycle of the
	// permutation once (perm[i] < 0 marks done): no second large array.
	for i := range perm {
		if perm[i] < 0 {
			continue
		}
		tmp := scored[i]
		j := i
		for {
			src := int(perm[j])
			perm[j] = -1
			if src == i {
				scored[j] = tmp
				break
			}
			scored[j] = scored[src]
			j = src
		}
	}
	for i := range scored {
		scored[i].Finding = &a.findings[i]
	}
	perm, scored = nil, nil

	a.groupOf = make([]int32, n)
	next := make([]int32, n)
	for i := range next {
		next[i] = -1
		a.groupOf[i] = -1
	}

	// Pass 1: risky open findings by resource, in rank order.
	resources := make(map[resKey]chain)
	for i := range a.Scored {
		s := &a.Scored[i]
		if s.Finding.Status != StatusOpen || classesOf(ranked[i]) == 0 || s.Finding.Resource.ID == "" {
			continue
		}
		link(resources, resKey{NormalizeProvider(s.Finding.Provider), s.Finding.Account, s.Finding.Resource.ID}, int32(i), next)
	}

	members := make([]*Scored, 0, n) // every group's Members is a window of this
	var groups []Group
	for k, c := range resources {
		if c.n < 2 {
			continue
		}
		var union, widest riskClass
		exposed := false
		for i := c.head; i >= 0; i = next[i] {
			cl := classesOf(ranked[i])
			union |= cl
			if classCount(cl) > classCount(widest) {
				widest = cl
			}
			r := &a.Scored[i].Finding.Resource
			exposed = exposed || r.Public || r.PublicIP != ""
		}
		if exposed && union&(riskPublic|riskAdminPort) == 0 {
			union |= riskPublic
		}
		best := &a.Scored[c.head]
		if !toxic(union, widest, sensitiveData(best.Attr.DataClass)) {
			continue
		}
		start := len(members)
		for i := c.head; i >= 0; i = next[i] {
			members = append(members, &a.Scored[i])
			a.groupOf[i] = int32(len(groups))
		}
		g := Group{
			ID:      CombinationID(k.provider, k.account, k.resource),
			Kind:    KindCombination,
			Members: members[start:len(members):len(members)],
		}
		res := best.Finding.Resource.Name
		if res == "" {
			res = best.Finding.Resource.ID
		}
		g.Title = combinationTitle(res, union, best.Attr.DataClass)
		g.Raw = combinationRaw(best.Raw, classCount(union), int(c.n))
		g.Score, g.Band = scoreOfRaw(g.Raw)
		// A toxic combination must read as worse than any part of it,
		// including at the top of the scale where integers run out.
		for _, m := range g.Members {
			if g.Score <= m.Score {
				g.Score = min(m.Score+1, 100)
				g.Band = BandOf(g.Score)
			}
		}
		fillShared(&g, best)
		g.Resource = best.Finding.Resource.ID
		g.Why = mergeWhy(g.Members, 4)
		groups = append(groups, g)
	}
	resources = nil

	// Pass 2: the rest by check, account and environment.
	for i := range next {
		next[i] = -1
	}
	clusters := make(map[clusterKey]chain)
	var singles []int32
	for i := range a.Scored {
		s := &a.Scored[i]
		if s.Finding.Status != StatusOpen || a.groupOf[i] >= 0 {
			continue
		}
		k := clusterKey{NormalizeProvider(s.Finding.Provider), s.Check.ID, "", s.Finding.Account, s.Attr.Environment}
		if s.Check.ID == GenericCheck {
			// Unknown rules are only alike when the source says so.
			k.rule = s.Finding.Rule
		}
		link(clusters, k, int32(i), next)
	}
	for k, c := range clusters {
		if c.n < 2 {
			singles = append(singles, c.head)
			continue
		}
		start := len(members)
		best := &a.Scored[c.head]
		owner := best.Attr.Owner
		for i := c.head; i >= 0; i = next[i] {
			members = append(members, &a.Scored[i])
			a.groupOf[i] = int32(len(groups))
			if a.Scored[i].Attr.Owner != owner {
				owner = ""
			}
		}
		id := ClusterID(k.provider, k.check, k.account, k.env)
		if k.rule != "" {
			id = ClusterID(k.provider, k.check+"/"+k.rule, k.account, k.env)
		}
		g := Group{ID: id, Kind: KindCluster, Members: members[start:len(members):len(members)]}
		title := best.Check.Title
		if k.check == GenericCheck && best.Finding.Title != "" {
			title = best.Finding.Title
		}
		g.Title = clusterTitle(int(c.n), k.env, title)
		g.Raw = clusterRaw(best.Raw, int(c.n))
		g.Score, g.Band = clusterScore(g.Raw, best)
		fillShared(&g, best)
		g.Owner = owner
		g.Why = best.Why(3)
		groups = append(groups, g)
	}
	clusters = nil
	for _, i := range singles {
		s := &a.Scored[i]
		members = append(members, s)
		a.groupOf[i] = int32(len(groups))
		g := Group{
			ID:      s.Finding.ID,
			Kind:    KindFinding,
			Title:   plainText(s.Finding.Title, 200),
			Members: members[len(members)-1 : len(members) : len(members)],
			Raw:     s.Raw,
			Score:   s.Score,
			Band:    s.Band,
		}
		if g.Title == "" {
			g.Title = s.Check.Title
		}
		fillShared(&g, s)
		g.Resource = s.Finding.Resource.ID
		g.Why = s.Why(3)
		groups = append(groups, g)
	}

	// Rank groups, then renumber groupOf to the ranked positions.
	gorder := make([]int32, len(groups))
	for i := range gorder {
		gorder[i] = int32(i)
	}
	slices.SortFunc(gorder, func(x, y int32) int {
		gx, gy := &groups[x], &groups[y]
		// The shown score first: band ceilings on clusters and the bump that
		// keeps a combination above its members can disagree with Raw by a
		// point, and a list whose numbers go up and down reads as a bug.
		if gx.Score != gy.Score {
			return cmp.Compare(gy.Score, gx.Score)
		}
		if gx.Raw != gy.Raw {
			return cmp.Compare(gy.Raw, gx.Raw)
		}
		if c := cmp.Compare(gx.ID, gy.ID); c != 0 {
			return c
		}
		return scoredCompare(gx.Members[0], gy.Members[0])
	})
	a.Groups = make([]Group, len(groups))
	rank := make([]int32, len(groups))
	for to, from := range gorder {
		a.Groups[to] = groups[from]
		rank[from] = int32(to)
	}
	for i, g := range a.groupOf {
		if g >= 0 {
			a.groupOf[i] = rank[g]
		}
	}
	return a
}

func scoredCompare(x, y *Scored) int {
	switch {
	case scoredLess(x, y):
		return -1
	case scoredLess(y, x):
		return 1
	}
	return 0
}

// fillShared copies what a group's best member says about where it lives.
func fillShared(g *Group, best *Scored) {
	g.Provider = NormalizeProvider(best.Finding.Provider)
	g.Account = best.Finding.Account
	g.Environment = string(best.Attr.Environment)
	g.Owner = best.Attr.Owner
}

func (a *Assessment) buildIndex() {
	a.indexOnce.Do(func() {
		a.byID = make(map[string]int32, len(a.Scored))
		a.byResource = make(map[resKey][]int32)
		for i := range a.Scored {
			f := a.Scored[i].Finding
			if _, ok := a.byID[f.ID]; !ok {
				a.byID[f.ID] = int32(i)
			}
			for _, sid := range f.SourceIDs {
				if _, ok := a.byID[sid]; !ok {
					a.byID[sid] = int32(i)
				}
			}
			if f.Resource.ID != "" {
				k := resKey{NormalizeProvider(f.Provider), f.Account, f.Resource.ID}
				a.byResource[k] = append(a.byResource[k], int32(i))
			}
		}
		a.groupByID = make(map[string]int32, len(a.Groups))
		for i := range a.Groups {
			a.groupByID[a.Groups[i].ID] = int32(i)
		}
	})
}

// Finding finds a scored finding by its F- id (any case) or by a source id
// such as an Optix alertId.
func (a *Assessment) Finding(id string) (*Scored, bool) {
	i, ok := a.find(id)
	if !ok {
		return nil, false
	}
	return &a.Scored[i], true
}

func (a *Assessment) find(id string) (int32, bool) {
	a.buildIndex()
	if i, ok := a.byID[NormalizeID(id)]; ok {
		return i, true
	}
	i, ok := a.byID[id]
	return i, ok
}

// Group finds a ranked group by its id; an F- id of a finding that sits in a
// cluster or combination gives that group.
func (a *Assessment) Group(id string) (*Group, bool) {
	a.buildIndex()
	if i, ok := a.groupByID[NormalizeID(id)]; ok {
		return &a.Groups[i], true
	}
	return a.GroupOf(id)
}

// GroupOf returns the group an open finding was ranked in.
func (a *Assessment) GroupOf(findingID string) (*Group, bool) {
	i, ok := a.find(findingID)
	if !ok || a.groupOf[i] < 0 {
		return nil, false
	}
	return &a.Groups[a.groupOf[i]], true
}

// Related lists the other findings on the same resource (open or closed),
// then the other members of the finding's cluster, each once, in rank order
// within each part.
func (a *Assessment) Related(id string) []*Scored {
	i, ok := a.find(id)
	if !ok {
		return nil
	}
	f := a.Scored[i].Finding
	var out []*Scored
	seen := map[*Scored]bool{&a.Scored[i]: true}
	if f.Resource.ID != "" {
		for _, j := range a.byResource[resKey{NormalizeProvider(f.Provider), f.Account, f.Resource.ID}] {
			if s := &a.Scored[j]; !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	if g := a.groupOf[i]; g >= 0 && a.Groups[g].Kind == KindCluster {
		for _, m := range a.Groups[g].Members {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out
}

// Filter narrows Top and Clusters. The zero value matches everything.
type Filter struct {
	Provider    string      // normalized with NormalizeProvider
	Account     string      // exact account id
	Environment Environment // any spelling ParseEnvironment knows
	MinBand     Band        // lowest band to include
}

// Top is a ranked selection with the counts a reply needs to be honest
// about what it left out.
type Top struct {
	Groups                     []Group // at most n, ranked
	Findings, GroupsConsidered int     // open findings / groups that matched the filter
	// Deprioritized counts matching findings that were pushed down: in a
	// sandbox or dev environment, or scored LOW.
	Deprioritized   int
	DeprioritizedBy map[string]int // "sandbox", "dev", "low"; each finding under its first reason
}

// Top returns the n highest-ranked groups matching f.
func (a *Assessment) Top(n int, f Filter) Top { return a.top(n, f, false) }

// Clusters is Top restricted to clusters and toxic combinations.
func (a *Assessment) Clusters(n int, f Filter) Top { return a.top(n, f, true) }

func (a *Assessment) top(n int, f Filter, groupedOnly bool) Top {
	t := Top{DeprioritizedBy: map[string]int{}}
	prov := NormalizeProvider(f.Provider)
	env := f.Environment
	if e, ok := ParseEnvironment(string(env)); ok {
		env = e
	}
	minRank := f.MinBand.Rank()
	for gi := range a.Groups {
		g := &a.Groups[gi]
		if groupedOnly && g.Kind == KindFinding {
			continue
		}
		if prov != "" && g.Provider != prov || f.Account != "" && g.Account != f.Account ||
			env != "" && g.Environment != string(env) || minRank > 0 && g.Band.Rank() < minRank {
			continue
		}
		t.GroupsConsidered++
		for _, m := range g.Members {
			t.Findings++
			reason := ""
			switch {
			case m.Attr.Environment == EnvSandbox:
				reason = "sandbox"
			case m.Attr.Environment == EnvDev:
				reason = "dev"
			case m.Band == BandLow:
				reason = "low"
			}
			if reason != "" {
				t.Deprioritized++
				t.DeprioritizedBy[reason]++
			}
		}
		if len(t.Groups) < n {
			t.Groups = append(t.Groups, *g)
		}
	}
	return t
}
