package posture

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Band is a score band on the Cloud Optix scale.
type Band string

// Bands, from the most to the least urgent.
const (
	BandCritical Band = "CRITICAL"
	BandHigh     Band = "HIGH"
	BandMedium   Band = "MEDIUM"
	BandLow      Band = "LOW"
)

// BandOf places a 0-100 score in its band: CRITICAL >= 90, HIGH 80-89,
// MEDIUM 50-79, LOW below 50 (the Cloud Optix alert scale).
func BandOf(score int) Band {
	switch {
	case score >= 90:
		return BandCritical
	case score >= 80:
		return BandHigh
	case score >= 50:
		return BandMedium
	}
	return BandLow
}

// ParseBand reads a band name in any case; ok is false for other words.
func ParseBand(s string) (Band, bool) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "CRITICAL", "CRIT":
		return BandCritical, true
	case "HIGH":
		return BandHigh, true
	case "MEDIUM", "MED":
		return BandMedium, true
	case "LOW":
		return BandLow, true
	}
	return "", false
}

// Rank orders bands: LOW 1 ... CRITICAL 4, anything else 0.
func (b Band) Rank() int {
	switch b {
	case BandCritical:
		return 4
	case BandHigh:
		return 3
	case BandMedium:
		return 2
	case BandLow:
		return 1
	}
	return 0
}

// Factor is one named contribution to a risk score.
type Factor struct {
	Name   string  // machine-stable, e.g. "internet-exposure"
	Label  string  // human, e.g. "SSH open to the world"
	Points float64 // raw points; negative for factors that push down
}

// Factor names. They are stable: handlers, the LLM prompt and the audit log
// refer to them.
const (
	FactorSeverity            = "severity"
	FactorInternetExposure    = "internet-exposure"
	FactorPublicAccess        = "public-access"
	FactorOpenAdminPort       = "open-admin-port"
	FactorPrivilegeEscalation = "privilege-escalation"
	FactorExposedSecret       = "exposed-secret"
	FactorAssetCriticality    = "asset-criticality"
	FactorEnvironment         = "environment"
	FactorDataSensitivity     = "data-sensitivity"
	FactorAge                 = "age"
)

// Scored is a finding with its risk score and the factors behind it.
type Scored struct {
	Finding *Finding
	Check   *Check
	Attr    Attribution
	Raw     float64 // unsquashed points, for ordering
	Score   int     // 0-100
	Band    Band
	Factors []Factor // all factors that apply, largest |Points| first
}

// decisive is how far a negative factor must push to be worth saying: "dev"
// explains why a critical check sits in the middle of the list.
const decisive = 10

// Why joins the labels of up to n factors that raised the score, strongest
// first, e.g. "internet-facing; public write; holds PII; production". The
// environment, when it moved the score decisively ("production", "dev",
// "sandbox"), or another factor that decisively lowered it, is always
// named, in the last place, because it explains why a severe check ranks where it
// does. The base severity is only named when nothing else is. The string is
// built on demand: only shown findings need it.
func (s *Scored) Why(n int) string {
	if n <= 0 {
		return ""
	}
	var pos [12]*Factor
	np := 0
	var neg *Factor
	for i := range s.Factors {
		f := &s.Factors[i]
		switch {
		case f.Name == FactorSeverity:
		case f.Name == FactorEnvironment:
			// The environment scales the rest, so it is context for the
			// reasons rather than one of them: named last, when it mattered.
			if math.Abs(f.Points) >= decisive && neg == nil {
				neg = f
			}
		case f.Points > 0 && np < len(pos):
			pos[np] = f
			np++
		case f.Points <= -decisive && neg == nil:
			neg = f
		}
	}
	if neg != nil {
		np = min(np, n-1)
	} else {
		np = min(np, n)
	}
	var b strings.Builder
	for i := 0; i < np; i++ {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(pos[i].Label)
	}
	if neg != nil {
		if np > 0 {
			b.WriteString("; ")
		}
		b.WriteString(neg.Label)
	}
	if np == 0 && neg == nil {
		for _, f := range s.Factors {
			if f.Name == FactorSeverity {
				b.WriteString(f.Label)
			}
		}
	}
	return b.String()
}

// Top returns the finding's headline reason: its strongest raising factor
// other than severity, else a decisive lowering one, else the severity.
func (s *Scored) Top() Factor {
	var neg, sev Factor
	for _, f := range s.Factors {
		switch {
		case f.Name == FactorSeverity:
			sev = f
		case f.Name == FactorEnvironment:
			if math.Abs(f.Points) >= decisive && neg.Name == "" {
				neg = f
			}
		case f.Points > 0:
			return f
		case f.Points <= -decisive && neg.Name == "":
			neg = f
		}
	}
	if neg.Name != "" {
		return neg
	}
	return sev
}

// Scorer computes risk scores. The zero Now disables the age factor.
type Scorer struct {
	Catalogue *Catalogue // nil = DefaultCatalogue()
	Now       time.Time
}

// The points. Raw is a sum of named factors; squash maps it onto 0-100.
// Severity bases sit where squash puts a check of that severity, with no
// context, at the bottom of its Optix band: critical 90, high 80, medium 50,
// low 25. Context then moves it. All exposure, sensitivity and criticality
// points are non-negative, which is what makes the score monotone in them.
var severityBase = [...]float64{
	SeverityUnknown:  45,
	SeverityInfo:     10,
	SeverityLow:      25,
	SeverityMedium:   50,
	SeverityHigh:     82.5,
	SeverityCritical: 103,
}

var severityLabels = [...]string{
	SeverityUnknown:  "unknown severity",
	SeverityInfo:     "informational severity",
	SeverityLow:      "low severity",
	SeverityMedium:   "medium severity",
	SeverityHigh:     "high severity",
	SeverityCritical: "critical severity",
}

const (
	pointsInternet    = 15
	pointsPublicWrite = 12
	pointsPublicRead  = 6
	pointsAdminPort   = 12
	pointsPrivEsc     = 12
	pointsSecret      = 12
	// The environment scales everything else rather than adding a fixed
	// amount: a public bucket is a public bucket, but in a sandbox it is
	// worth much less than in production, whatever its severity. A fixed
	// discount left critical checks in dev above production findings.
	multProduction      = 1.1
	multDev             = 0.8
	multSandbox         = 0.6
	pointsAgePerMonth   = 1
	pointsAgeMax        = 6
	exposedSensitiveMul = 1.4 // data that can be reached from the internet counts 40% more
)

var criticalityPoints = map[string]struct {
	points float64
	label  string
}{
	CriticalityCritical: {10, "business-critical asset"},
	CriticalityHigh:     {6, "high-criticality asset"},
	CriticalityMedium:   {2, "medium-criticality asset"},
}

var dataPoints = map[string]struct {
	points float64
	label  string
}{
	DataRestricted:   {12, "holds restricted data"},
	DataPII:          {10, "holds PII"},
	DataConfidential: {6, "holds confidential data"},
	DataInternal:     {2, "holds internal data"},
}

// sourceScoreLabels are built once so scoring an Optix alert does not format.
var sourceScoreLabels = func() (l [101]string) {
	for i := range l {
		l[i] = "source score " + strconv.Itoa(i)
	}
	return l
}()

// squash maps raw points onto 0-100, strictly increasing everywhere so that
// two findings with different raw points never tie for a reason of
// arithmetic: linear from 10 to 70 (where the Optix bands are wide), then an
// exponential approach to 100 so very risky findings stay apart instead of
// piling up at the top, and an exponential approach to 0 below 10. The
// pieces meet with equal slope.
func squash(raw float64) float64 {
	switch {
	case raw > 70:
		return 100 - 30*math.Exp(-(raw-70)/30)
	case raw < 10:
		return 10 * math.Exp((raw-10)/10)
	}
	return raw
}

// sourceBase places a source's own 0-100 score (Cloud Optix) on the raw
// scale: at its band's severity base, plus a little for where it sits in the
// band. Mapping it through unsquash instead made a 95 worth 21 points more
// than a 90, so the source's own judgement of exposure (which a public-bucket
// rule already includes) was counted twice once context was added. It is
// strictly increasing in score, and continuous at the band edges.
func sourceBase(score int) float64 {
	x := float64(score)
	switch {
	case score >= 90:
		return severityBase[SeverityCritical] + (x - 90)
	case score >= 80:
		return severityBase[SeverityHigh] + (x-80)*(severityBase[SeverityCritical]-severityBase[SeverityHigh])/10
	case score >= 50:
		return severityBase[SeverityMedium] + (x-50)*(severityBase[SeverityHigh]-severityBase[SeverityMedium])/30
	}
	return x * severityBase[SeverityMedium] / 50
}

// intScore truncates so that 100 is never reached by a single finding: a
// toxic combination can then always score strictly above its members.
func intScore(raw float64) int {
	s := int(squash(raw))
	if s > 99 {
		s = 99
	}
	if s < 0 {
		s = 0
	}
	return s
}

// Score scores one finding under an attribution.
func (sc Scorer) Score(f *Finding, a Attribution) Scored {
	cat := sc.Catalogue
	if cat == nil {
		cat = DefaultCatalogue()
	}
	ch, ok := cat.Lookup(f.Check)
	if !ok {
		ch = cat.Generic()
	}
	return sc.score(f, ch, checkTraits(ch), a, make([]Factor, 0, 8))
}

// score appends factors to buf (which Assess carves from one large block) and
// returns the scored finding.
func (sc Scorer) score(f *Finding, ch *Check, t traits, a Attribution, buf []Factor) Scored {
	fs := buf[:0]
	sev := ch.Severity
	if sev == SeverityUnknown || ch.ID == GenericCheck {
		sev = f.Severity
	}
	if sev < 0 || int(sev) >= len(severityBase) {
		sev = SeverityUnknown
	}
	if f.SourceScore > 0 && f.SourceScore <= 100 {
		fs = append(fs, Factor{FactorSeverity, sourceScoreLabels[f.SourceScore], sourceBase(f.SourceScore)})
	} else {
		fs = append(fs, Factor{FactorSeverity, severityLabels[sev], severityBase[sev]})
	}

	exposed := t&traitExposed != 0 || f.Resource.Public || f.Resource.PublicIP != ""
	adminLabel := ""
	switch {
	case t&traitAllPorts != 0:
		adminLabel = "all ports open to the world"
	case t&traitSSH != 0:
		adminLabel = "SSH open to the world"
	case t&traitRDP != 0:
		adminLabel = "RDP open to the world"
	}
	if adminLabel == "" {
		for _, p := range f.Resource.OpenPorts {
			switch p {
			case 0, -1:
				adminLabel = "all ports open to the world"
			case 22:
				if adminLabel == "" {
					adminLabel = "SSH open to the world"
				}
			case 3389:
				if adminLabel == "" {
					adminLabel = "RDP open to the world"
				}
			}
		}
	}
	if adminLabel != "" {
		exposed = true
	}
	if exposed {
		fs = append(fs, Factor{FactorInternetExposure, "internet-facing", pointsInternet})
	}
	switch {
	case t&traitPublicWrite != 0:
		fs = append(fs, Factor{FactorPublicAccess, "public write", pointsPublicWrite})
	case t&traitPublicRead != 0:
		fs = append(fs, Factor{FactorPublicAccess, "public read", pointsPublicRead})
	}
	if adminLabel != "" {
		fs = append(fs, Factor{FactorOpenAdminPort, adminLabel, pointsAdminPort})
	}
	if t&traitPrivEsc != 0 {
		fs = append(fs, Factor{FactorPrivilegeEscalation, "privilege escalation", pointsPrivEsc})
	}
	if t&traitSecret != 0 {
		fs = append(fs, Factor{FactorExposedSecret, "secret exposed", pointsSecret})
	}
	if c, ok := criticalityPoints[a.Criticality]; ok {
		fs = append(fs, Factor{FactorAssetCriticality, c.label, c.points})
	}
	if d, ok := dataPoints[a.DataClass]; ok {
		p := d.points
		if exposed {
			p *= exposedSensitiveMul
		}
		fs = append(fs, Factor{FactorDataSensitivity, d.label, p})
	}
	if !sc.Now.IsZero() && !f.FirstSeen.IsZero() {
		if days := int(sc.Now.Sub(f.FirstSeen).Hours() / 24); days >= 30 {
			p := math.Min(pointsAgeMax, float64(days)/30*pointsAgePerMonth)
			fs = append(fs, Factor{FactorAge, ageLabel(days), p})
		}
	}

	raw := 0.0
	for _, x := range fs {
		raw += x.Points
	}
	// Applied last, to the sum of the rest; its points are what it added or
	// took away, so the factors still add up to Raw.
	switch a.Environment {
	case EnvProduction:
		fs = append(fs, Factor{FactorEnvironment, "production", raw * (multProduction - 1)})
		raw *= multProduction
	case EnvDev:
		fs = append(fs, Factor{FactorEnvironment, "dev", raw * (multDev - 1)})
		raw *= multDev
	case EnvSandbox:
		fs = append(fs, Factor{FactorEnvironment, "sandbox", raw * (multSandbox - 1)})
		raw *= multSandbox
	}
	sortFactors(fs)
	s := intScore(raw)
	return Scored{Finding: f, Check: ch, Attr: a, Raw: raw, Score: s, Band: BandOf(s), Factors: fs}
}

// sortFactors orders by |Points| desc, then name, without the closure
// allocation of sort.Slice: it runs once per finding.
func sortFactors(fs []Factor) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && factorLess(&fs[j], &fs[j-1]); j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

func factorLess(a, b *Factor) bool {
	pa, pb := math.Abs(a.Points), math.Abs(b.Points)
	if pa != pb {
		return pa > pb
	}
	return a.Name < b.Name
}

// ageLabels caches "open N days" for the first years; older findings format.
var ageLabels = func() (l [731]string) {
	for i := 30; i < len(l); i++ {
		l[i] = "open " + strconv.Itoa(i) + " days"
	}
	return l
}()

func ageLabel(days int) string {
	if days < len(ageLabels) {
		return ageLabels[days]
	}
	return "open " + strconv.Itoa(days) + " days"
}

// Check traits, derived once per check from its catalogue categories and id.
type traits uint16

const (
	traitExposed traits = 1 << iota
	traitPublicWrite
	traitPublicRead
	traitSSH
	traitRDP
	traitAllPorts
	traitPrivEsc
	traitSecret
	traitEncryption
	traitsKnown // set once computed
)

// checkTraits reads a check's id and categories (see
// ../shared/data/prowler/checks: "internet-exposed", "privilege-escalation",
// "secrets", "encryption"). The id matters because categories are coarse:
// s3_bucket_public_write_acl and s3_bucket_public_access are both just
// "internet-exposed", and "secrets" also covers key rotation hygiene.
func checkTraits(ch *Check) traits {
	id := ch.ID
	t := traitsKnown
	if ch.Has("internet-exposed") || strings.Contains(id, "public") {
		t |= traitExposed
	}
	switch {
	case strings.Contains(id, "public_write") || strings.Contains(id, "write_acl") || strings.Contains(id, "public_write_access"):
		t |= traitPublicWrite | traitExposed
	case dataStore(ch) && t&traitExposed != 0 && !strings.Contains(id, "access_block") &&
		(strings.Contains(id, "public_access") || strings.Contains(id, "public_list") || strings.Contains(id, "public_read") ||
			strings.Contains(id, "publicly_accessible") || strings.Contains(id, "public_snapshot") || strings.HasSuffix(id, "_public") ||
			strings.Contains(id, "object_public")):
		// "Public read" is said of data anyone can fetch; a database that
		// is merely reachable is "internet-facing" only.
		t |= traitPublicRead
	}
	if t&traitExposed != 0 || ch.Service == "network" || strings.Contains(id, "firewall") || strings.Contains(id, "securitygroup") || strings.Contains(id, "networkacl") {
		switch {
		case strings.Contains(id, "all_ports") || strings.Contains(id, "wide_open"):
			t |= traitAllPorts | traitExposed
		case strings.Contains(id, "port_22") || strings.Contains(id, "ssh"):
			t |= traitSSH | traitExposed
		case strings.Contains(id, "port_3389") || strings.Contains(id, "rdp"):
			t |= traitRDP | traitExposed
		}
	}
	if ch.Has("privilege-escalation") || strings.Contains(id, "privilege_escalation") || strings.Contains(id, "administrative_privileges") {
		t |= traitPrivEsc
	}
	if ch.Has("secrets") && (strings.Contains(id, "secret") || strings.Contains(id, "sensitive_credentials")) {
		t |= traitSecret
	}
	if ch.Has("encryption") || strings.Contains(id, "encrypt") {
		t |= traitEncryption
	}
	return t
}

// dataStore reports whether a check's service holds objects or images that
// can be shared publicly (buckets, blob storage, vaults, snapshots, AMIs).
func dataStore(ch *Check) bool {
	switch ch.Service {
	case "s3", "cloudstorage", "storage", "glacier", "bigquery":
		return true
	}
	return strings.Contains(ch.ID, "snapshot") || strings.Contains(ch.ID, "_ami_") || strings.Contains(ch.ID, "image")
}

// scoreOfRaw returns the squashed score of a raw value, for callers (groups)
// that compute their own raw points.
func scoreOfRaw(raw float64) (int, Band) {
	s := intScore(raw)
	return s, BandOf(s)
}

// sortScored ranks by Raw desc, then id, then source, so the order never
// depends on input order.
func sortScored(s []Scored) {
	sort.Slice(s, func(i, j int) bool { return scoredLess(&s[i], &s[j]) })
}

func scoredLess(a, b *Scored) bool {
	if a.Raw != b.Raw {
		return a.Raw > b.Raw
	}
	if a.Finding.ID != b.Finding.ID {
		return a.Finding.ID < b.Finding.ID
	}
	if a.Finding.Source != b.Finding.Source {
		return a.Finding.Source < b.Finding.Source
	}
	return firstSourceID(a.Finding) < firstSourceID(b.Finding)
}

func firstSourceID(f *Finding) string {
	if len(f.SourceIDs) > 0 {
		return f.SourceIDs[0]
	}
	return ""
}
