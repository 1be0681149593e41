package remediate

import (
	"regexp"
	"strings"

	"github.com/optix-bot/optix-bot/posture"
)

// Identifier-looking literals the linter compares with the finding. The
// whole body is scanned, comments included, because a rollback command in
// a comment is meant to be pasted and must target the same resource.
var (
	litARN     = regexp.MustCompile(`arn:(aws|aws-cn|aws-us-gov):[a-z0-9-]+:[a-z0-9-]*:[0-9]*:[A-Za-z0-9_+=,.@/:-]*[A-Za-z0-9_+=,.@-]`)
	litAWSID   = regexp.MustCompile(`\b(sg|vol|snap|i|vpc|subnet)-[0-9a-f]{8,17}\b`)
	litRegion  = regexp.MustCompile(`\b(us|eu|ap|sa|ca|me|af|il|mx|cn)(-gov|-iso|-isob)?-(north|south|east|west|central|northeast|southeast|northwest|southwest)-[0-9]{1,2}\b`)
	litAccount = regexp.MustCompile(`(^|[^0-9A-Za-z-])([0-9]{12})([^0-9A-Za-z-]|$)`)
	litGUID    = regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
	litURL     = regexp.MustCompile(`\b(s3|gs)://([a-z0-9._-]+)`)
	litFlag    = regexp.MustCompile(`--(bucket|group-id|region|project|resource-group|nsg-name|policy-arn|user-name|db-instance-identifier|volume-id|volume-ids|subscription|trail-name-list|source-region|account-name|name)[ =]"?([A-Za-z0-9._:/@+=,-]+)`)
	litAttr    = regexp.MustCompile(`(?m)^\s*(bucket|region|user|name|id|BucketName|security_group_id|policy_arn)\s*[=:]\s*"([^"$]+)"`)
)

// ownPrefix marks resources optix-bot's templates create themselves (the
// optix-require-mfa policy, optix-... snapshots): not the finding's, but
// not someone else's either.
const ownPrefix = "optix-"

type knownIdents struct {
	account string
	regions map[string]bool
	values  map[string]bool // lower case
}

func identsOf(f *posture.Finding) knownIdents {
	k := knownIdents{account: strings.ToLower(f.Account), regions: map[string]bool{}, values: map[string]bool{}}
	for _, r := range []string{f.Region, f.Resource.Region} {
		if r != "" {
			k.regions[r] = true
		}
	}
	add := func(s string) {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			k.values[s] = true
		}
	}
	add(f.Account)
	for _, s := range []string{f.Resource.ID, f.Resource.Name} {
		add(s)
		for _, seg := range strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == ':' }) {
			add(seg)
		}
	}
	return k
}

func (k knownIdents) known(v string) bool {
	l := strings.ToLower(v)
	return k.values[l] || strings.HasPrefix(l, ownPrefix)
}

func (k knownIdents) arnOK(s string) bool {
	if k.values[strings.ToLower(s)] {
		return true
	}
	p := strings.SplitN(s, ":", 6)
	if len(p) != 6 {
		return false
	}
	if p[4] != "" && p[4] != k.account {
		return false
	}
	if p[3] != "" && !k.regions[p[3]] {
		return false
	}
	res := p[5]
	if i := strings.LastIndexAny(res, "/:"); i >= 0 {
		res = res[i+1:]
	}
	return res != "" && k.known(res)
}

// lintIdentifiers checks identifier-looking literals against the finding.
// literals are the few fixed ids one template kind may also use (the
// singleton "default" of EBS default encryption), allowed for that kind
// only; regions likewise (a global kind's IAM home region).
func lintIdentifiers(body string, f *posture.Finding, regions []string, literals ...string) []Violation {
	k := identsOf(f)
	for _, r := range regions {
		k.regions[r] = true
	}
	for _, l := range literals {
		k.values[strings.ToLower(l)] = true
	}
	var v []Violation
	bad := func(line int, what, val string) {
		v = append(v, Violation{Rule: RuleIdentifier, Line: line, Message: what + " " + val + " is not the finding's"})
	}
	for n, ln := range strings.Split(body, "\n") {
		line := n + 1
		for _, m := range litARN.FindAllString(ln, -1) {
			if !k.arnOK(m) {
				bad(line, "ARN", m)
			}
		}
		for _, m := range litAWSID.FindAllString(ln, -1) {
			if !k.known(m) {
				bad(line, "resource id", m)
			}
		}
		for _, m := range litRegion.FindAllString(ln, -1) {
			if !k.regions[m] {
				bad(line, "region", m)
			}
		}
		for _, m := range litAccount.FindAllStringSubmatch(ln, -1) {
			if m[2] != k.account {
				bad(line, "account", m[2])
			}
		}
		for _, m := range litGUID.FindAllString(ln, -1) {
			if strings.ToLower(m) != k.account {
				bad(line, "subscription", m)
			}
		}
		for _, m := range litURL.FindAllStringSubmatch(ln, -1) {
			if !k.known(m[2]) {
				bad(line, "bucket", m[2])
			}
		}
		for _, m := range litFlag.FindAllStringSubmatch(ln, -1) {
			val := strings.TrimSuffix(m[2], "\"")
			if strings.HasPrefix(val, "arn:") {
				continue // checked as an ARN
			}
			if m[1] == "region" || m[1] == "source-region" {
				if !k.regions[val] {
					bad(line, "region", val)
				}
				continue
			}
			if !k.known(val) {
				bad(line, "--"+m[1], val)
			}
		}
		for _, m := range litAttr.FindAllStringSubmatch(ln, -1) {
			val := m[2]
			switch {
			case strings.HasPrefix(val, "arn:"):
			case m[1] == "region":
				if !k.regions[val] {
					bad(line, "region", val)
				}
			case !k.known(val):
				bad(line, m[1], val)
			}
		}
	}
	return v
}
