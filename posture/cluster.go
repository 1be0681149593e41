package posture

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// GroupKind says what holds a ranked group together.
type GroupKind string

// Group kinds.
const (
	KindFinding     GroupKind = "finding"     // one finding on its own
	KindCluster     GroupKind = "cluster"     // the same check in one account and environment
	KindCombination GroupKind = "combination" // several risky findings on one resource
)

// Group is one ranked line of an assessment.
type Group struct {
	ID      string // F- id for a single finding, C- plus 8 hex otherwise
	Kind    GroupKind
	Title   string    // plain text; resource names inside are untrusted data
	Members []*Scored // best first
	Raw     float64   // for ordering
	Score   int       // 0-100
	Band    Band      // band of Score
	// Provider, Account, Environment, Owner and Resource are shared by every
	// member; empty when members differ (Resource is empty for clusters).
	Provider, Account, Environment, Owner, Resource string
	Why                                             string
}

// ClusterID is the stable id of the cluster of check in one account and
// environment; the same estate gives the same id in the next pull.
func ClusterID(provider, check, account string, env Environment) string {
	return shortID("C-", "cluster", NormalizeProvider(provider), check, account, string(env))
}

// CombinationID is the stable id of the toxic combination on one resource.
func CombinationID(provider, account, resourceID string) string {
	return shortID("C-", "combination", NormalizeProvider(provider), account, resourceID)
}

// Risk classes for toxic combinations. A finding belongs to the classes its
// check shows; a resource the source marks public adds riskPublic.
type riskClass uint8

const (
	riskPublic riskClass = 1 << iota
	riskAdminPort
	riskPrivEsc
	riskSecret
	riskUnencrypted
)

// classesOf maps check traits to risk classes. An open admin port implies
// exposure, so it is not counted twice as public too: two ports open on one
// security group are one problem, not a combination.
func classesOf(t traits) riskClass {
	var c riskClass
	switch {
	case t&(traitSSH|traitRDP|traitAllPorts) != 0:
		c |= riskAdminPort
	case t&(traitExposed|traitPublicRead|traitPublicWrite) != 0:
		c |= riskPublic
	}
	if t&traitPrivEsc != 0 {
		c |= riskPrivEsc
	}
	if t&traitSecret != 0 {
		c |= riskSecret
	}
	if t&traitEncryption != 0 {
		c |= riskUnencrypted
	}
	return c
}

func classCount(c riskClass) int {
	n := 0
	for ; c != 0; c &= c - 1 {
		n++
	}
	return n
}

// sensitiveData reports whether a data class makes exposure toxic.
func sensitiveData(dc string) bool {
	return dc == DataRestricted || dc == DataPII || dc == DataConfidential
}

// toxic decides whether the union of classes on one resource is a toxic
// combination: at least two classes that no single member covers alone
// (several findings, not one broad one), and either sensitive data on the
// resource or two classes beyond "unencrypted". A public, unencrypted bucket
// of unknown content is left to its check clusters, so a dev account with
// hundreds of such buckets shows as a few clusters rather than hundreds of
// "combinations".
func toxic(union, widestMember riskClass, sensitive bool) bool {
	if classCount(union) < 2 || union == widestMember {
		return false
	}
	if sensitive {
		return true
	}
	return classCount(union&^riskUnencrypted) >= 2
}

// combinationRaw ranks a combination strictly above its best member: each
// extra class is worth more than extra findings of a class already present.
func combinationRaw(best float64, classes, members int) float64 {
	return best + 8*float64(classes-1) + float64(members-1)
}

// clusterRaw adds a small, slowly growing bonus for breadth: 200 findings of
// one kind are more work and more surface than one, but not 200 times more
// urgent than a single production exposure.
func clusterRaw(best float64, members int) float64 {
	return best + min(3, 0.75*math.Log2(float64(members)))
}

// clusterScore keeps a cluster in its best member's band: breadth orders
// clusters among equals but does not turn forty HIGH dev findings into a
// CRITICAL line.
func clusterScore(raw float64, best *Scored) (int, Band) {
	ceiling := 100
	switch best.Band {
	case BandHigh:
		ceiling = 89
	case BandMedium:
		ceiling = 79
	case BandLow:
		ceiling = 49
	}
	s := max(min(intScore(raw), ceiling), best.Score)
	return s, BandOf(s)
}

// combinationTitle writes "Toxic combination on <resource>: public + PII +
// unencrypted".
func combinationTitle(resource string, c riskClass, dataClass string) string {
	var b strings.Builder
	b.WriteString("Toxic combination on ")
	b.WriteString(plainText(resource, 120))
	b.WriteString(": ")
	n := 0
	add := func(s string) {
		if n > 0 {
			b.WriteString(" + ")
		}
		b.WriteString(s)
		n++
	}
	if c&riskPublic != 0 {
		add("public")
	}
	if c&riskAdminPort != 0 {
		add("admin port open")
	}
	if c&riskPrivEsc != 0 {
		add("privilege escalation")
	}
	if c&riskSecret != 0 {
		add("exposed secret")
	}
	switch dataClass {
	case DataRestricted:
		add("restricted data")
	case DataPII:
		add("PII")
	case DataConfidential:
		add("confidential data")
	}
	if c&riskUnencrypted != 0 {
		add("unencrypted")
	}
	return b.String()
}

// clusterNouns name the resource at the start of the catalogue's own titles
// (catalogue.go), with their plurals, longest first so "S3 bucket ACL" wins
// over "S3 bucket".
var clusterNouns = []struct{ one, many string }{
	{"S3 bucket policy", "S3 bucket policies"},
	{"S3 bucket ACL", "S3 bucket ACLs"},
	{"S3 bucket", "S3 buckets"},
	{"Security group", "security groups"},
	{"EBS volume", "EBS volumes"},
	{"EC2 instance", "EC2 instances"},
	{"RDS instance", "RDS instances"},
	{"Inline IAM policy", "inline IAM policies"},
	{"IAM policy", "IAM policies"},
	{"IAM user", "IAM users"},
	{"Unused IAM access key", "unused IAM access keys"},
	{"Access key", "access keys"},
	{"Storage account", "storage accounts"},
	{"GCS bucket", "GCS buckets"},
	{"Firewall rule", "firewall rules"},
	{"Compute instance", "compute instances"},
	{"NSG", "NSGs"},
}

// pluralVerbs are the predicate openings that read right after a plural
// noun, with the plural form of the verb.
var pluralVerbs = map[string]string{
	"without": "without", "not": "not", "with": "with", "readable": "readable", "reachable": "reachable",
	"allows": "allow", "has": "have", "opens": "open", "lets": "let", "grants": "grant", "holds": "hold", "is": "are",
}

// clusterTitle writes "212 dev S3 buckets without versioning" when the
// check's title starts with a known resource noun and a predicate, else
// "212 dev findings: <title>".
func clusterTitle(n int, env Environment, title string) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(n))
	b.WriteByte(' ')
	if env != EnvUnknown {
		b.WriteString(string(env))
		b.WriteByte(' ')
	}
	for _, nn := range clusterNouns {
		rest, ok := strings.CutPrefix(title, nn.one)
		if !ok {
			continue
		}
		if rest == "" {
			b.WriteString(nn.many)
			return b.String()
		}
		if rest[0] != ' ' {
			continue
		}
		word, tail, _ := strings.Cut(rest[1:], " ")
		verb, ok := pluralVerbs[word]
		if !ok {
			break
		}
		b.WriteString(nn.many)
		b.WriteByte(' ')
		b.WriteString(verb)
		if tail != "" {
			b.WriteByte(' ')
			b.WriteString(tail)
		}
		return b.String()
	}
	b.WriteString("findings: ")
	b.WriteString(plainText(title, 160))
	return b.String()
}

// plainText makes untrusted text safe to place inside one line of our own
// words: control characters (newlines included) become spaces, runs of space
// collapse, and it is cut at max runes. Markup escaping is the renderer's job.
func plainText(s string, max int) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean && !strings.Contains(s, "  ") && len(s) <= max && strings.TrimSpace(s) == s {
		return s
	}
	var b strings.Builder
	n := 0
	space := false
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.IsSpace(r) || unicode.In(r, unicode.Cf) {
			space = b.Len() > 0
			continue
		}
		if n >= max {
			b.WriteString("…")
			break
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// mergeWhy joins the strongest raising reasons across members, each label
// once, in order of points (then first appearance), and like Scored.Why
// keeps the last place for a decisive push-down such as "dev".
func mergeWhy(members []*Scored, n int) string {
	type reason struct {
		label  string
		points float64
	}
	var rs []reason
	var neg string
	for _, m := range members {
		for _, f := range m.Factors {
			switch {
			case f.Name == FactorSeverity:
				continue
			case f.Name == FactorEnvironment || f.Points <= -decisive:
				// As in Scored.Why: the environment is named last.
				if f.Name == FactorEnvironment && f.Points > -decisive && f.Points < decisive {
					continue
				}
				if neg == "" {
					neg = f.Label
				}
				continue
			case f.Points <= 0:
				continue
			}
			dup := false
			for i := range rs {
				if rs[i].label == f.Label {
					dup = true
					rs[i].points = max(rs[i].points, f.Points)
					break
				}
			}
			if !dup {
				rs = append(rs, reason{f.Label, f.Points})
			}
		}
	}
	// Stable insertion sort: few reasons, and ties keep first appearance.
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].points > rs[j-1].points; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
	keep := n
	if neg != "" {
		keep = n - 1
	}
	if len(rs) > keep {
		rs = rs[:max(keep, 0)]
	}
	parts := make([]string, 0, len(rs)+1)
	for _, r := range rs {
		parts = append(parts, r.label)
	}
	if neg != "" && n > 0 {
		parts = append(parts, neg)
	}
	if len(parts) == 0 && len(members) > 0 {
		return members[0].Why(n)
	}
	return strings.Join(parts, "; ")
}
