package sophostest

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/optix-bot/optix-bot/posture"
)

// Estate is what the emulator serves: Optix alerts and inventory hosts as
// raw JSON records, exactly as they go on the wire.
type Estate struct {
	Alerts []json.RawMessage
	// Hosts are inventory records; each one's accountType (AWS, Azure,
	// GCP) decides which provider list serves it.
	Hosts []json.RawMessage
}

//go:embed demo-context.yaml
var demoContext []byte

// DemoContext is the context file for the demo estate (accounts ->
// environment, owner, criticality, data classification), in the YAML
// shape posture.ParseContext reads.
func DemoContext() []byte { return slices.Clone(demoContext) }

// DemoSeedBucket is the demo's worst resource: a production bucket owned by
// finance, public read and write, unencrypted, holding PII.
const DemoSeedBucket = "arn:aws:s3:::acme-finance-customer-exports"

var (
	demoOnce   sync.Once
	demoEstate *Estate
)

// DemoEstate is the deterministic demo estate: nine cloud environments over
// AWS, Azure and GCP, about a hundred hosts, several hundred buckets,
// databases, identities and storage accounts, and over 600 open alerts.
// Kinds, severities and resource types come from posture's catalogue; most
// rule numbers are its Optix aliases, some are not (so the resource-type and
// summary fallback and the generic kind are exercised). It is built once
// and shared: do not modify it.
func DemoEstate() *Estate {
	demoOnce.Do(func() { demoEstate = buildDemo() })
	return demoEstate
}

// The demo's clock: alerts are dated relative to it, never to time.Now, so
// the estate is the same on every run.
var demoBase = time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)

type account struct {
	name, provider, id  string
	env, envTag         string // canonical and as teams tag it
	owner, app          string
	criticality, data   string
	regions             []string
	hostRoles           []string
	hosts               int
	exposure            float64 // chance a host has an admin port open to the world
	buckets, dbs, users int
}

var accounts = []account{
	{"aws-prod-payments", "AWS", "111122223333", "production", "prod", "payments", "payments", "critical", "restricted",
		[]string{"us-east-1", "us-west-2"}, []string{"payments-api", "ledger-worker", "fraud-scorer", "bastion"}, 10, 0.08, 8, 5, 8},
	{"aws-prod-web", "AWS", "222233334444", "production", "production", "web-platform", "storefront", "high", "internal",
		[]string{"us-east-1", "eu-west-1"}, []string{"web-frontend", "checkout-api", "search", "cdn-origin", "bastion"}, 18, 0.10, 10, 4, 9},
	{"aws-staging", "AWS", "333344445555", "staging", "stg", "platform", "shared-services", "medium", "internal",
		[]string{"us-east-1"}, []string{"stg-web", "stg-api", "stg-worker"}, 10, 0.15, 8, 3, 6},
	{"aws-dev", "AWS", "444455556666", "dev", "dev", "platform", "shared-services", "low", "internal",
		[]string{"us-east-1", "us-east-2"}, []string{"dev-build", "dev-api", "dev-jupyter", "dev-runner"}, 14, 0.30, 100, 4, 10},
	{"aws-sandbox", "AWS", "555566667777", "sandbox", "sandbox", "research", "experiments", "low", "public",
		[]string{"us-west-2"}, []string{"sbx-test", "sbx-ml", "sbx-scratch"}, 10, 0.40, 70, 2, 7},
	{"azure-prod", "Azure", "7d1e0c52-3f4a-4b8e-9a61-2c5f8e9b0a11", "production", "prod", "hr-systems", "hr-portal", "high", "pii",
		[]string{"westeurope", "northeurope"}, []string{"hr-portal", "payroll-app", "ad-connector", "jump"}, 12, 0.10, 8, 0, 0},
	{"azure-dev", "Azure", "b3a9f1d4-6c2e-4d7f-8e10-5a4b3c2d1e0f", "dev", "development", "hr-systems", "hr-portal", "low", "internal",
		[]string{"westeurope"}, []string{"hr-dev", "dev-vm"}, 8, 0.35, 6, 0, 0},
	{"gcp-prod", "GCP", "acme-analytics-prod", "production", "prd", "data-platform", "analytics", "high", "confidential",
		[]string{"us-central1", "europe-west1"}, []string{"analytics-etl", "bq-loader", "dash-api", "bastion"}, 10, 0.10, 8, 0, 0},
	{"gcp-sandbox", "GCP", "acme-ml-sandbox", "sandbox", "sbx", "ml-research", "notebooks", "low", "internal",
		[]string{"us-central1"}, []string{"ml-notebook", "sbx-gpu"}, 8, 0.40, 8, 0, 0},
}

// Our own alert summaries for the aliased rules.
var summaries = map[string]string{
	"AR-251":  "S3 bucket allows public read or list access",
	"AR-252":  "S3 bucket ACL grants write access to everyone",
	"AR-253":  "S3 bucket policy allows anyone to write objects",
	"AR-254":  "S3 Block Public Access is off for the bucket",
	"AR-255":  "S3 bucket has no default encryption",
	"AR-256":  "S3 bucket versioning is disabled",
	"AR-257":  "S3 bucket server access logging is disabled",
	"AR-651":  "Security group allows SSH (22) from 0.0.0.0/0",
	"AR-652":  "Security group allows RDP (3389) from 0.0.0.0/0",
	"AR-653":  "Security group allows all traffic from 0.0.0.0/0",
	"AR-301":  "EBS volume is not encrypted",
	"AR-351":  "RDS instance storage is not encrypted",
	"AR-352":  "RDS instance is publicly accessible",
	"AR-101":  "IAM user with a console password has no MFA",
	"AR-102":  "IAM policy grants full administrative privileges (*:*)",
	"AR-103":  "IAM policy allows privilege escalation",
	"AR-104":  "IAM access key not rotated in 90 days",
	"AR-151":  "CloudTrail is not logging in all regions",
	"AR-901":  "Resource is missing required tags (owner, environment)",
	"AZ-101":  "Storage account allows public blob access",
	"AZ-102":  "Storage account does not require secure transfer",
	"AZ-201":  "NSG allows SSH (22) from the internet",
	"AZ-202":  "NSG allows RDP (3389) from the internet",
	"GCP-101": "Cloud Storage bucket is readable by allUsers",
	"GCP-201": "Firewall rule allows SSH (22) from 0.0.0.0/0",
	"GCP-202": "Firewall rule allows RDP (3389) from 0.0.0.0/0",
}

// fallbacks are rule numbers outside the alias table whose resource type
// and summary still point to one catalogue check.
var fallbacks = []struct{ rule, kind, summary string }{
	{"AR-711", "bucket", "S3 bucket has no event notifications enabled"},
	{"AR-712", "bucket", "Cross-region replication is not configured for the S3 bucket"},
	{"AR-713", "host", "EC2 instance is not managed by SSM"},
	{"AR-714", "host", "EC2 instance detailed monitoring is not enabled"},
	{"AR-715", "db", "RDS instance deletion protection is disabled"},
	{"AR-716", "db", "RDS instance is not Multi-AZ"},
	{"AR-717", "db", "RDS instance automated backup is not enabled"},
}

// generics match nothing in the catalogue: they rank under the generic kind.
var generics = []struct{ rule, provider, rtype, summary string }{
	{"AR-990", "AWS", "Other", "No approved change-freeze calendar is on file"},
	{"AR-991", "AWS", "AwsS3Bucket", "Bucket name breaks our naming convention"},
	{"AZ-990", "Azure", "microsoft.resources/subscriptions", "Subscription has no budget alert"},
	{"GCP-990", "GCP", "Other", "Project lacks an essential-contacts owner"},
}

type wireAlert struct {
	AlertID           string         `json:"alertId"`
	AccountID         string         `json:"accountId"`
	AccountName       string         `json:"accountName,omitempty"`
	Provider          string         `json:"provider,omitempty"`
	Region            string         `json:"region,omitempty"`
	Score             int            `json:"score"`
	Severity          string         `json:"severity,omitempty"`
	AlertSummary      string         `json:"alertSummary"`
	AlertType         string         `json:"alertType"`
	RuleNumber        string         `json:"ruleNumber"`
	ResourceType      string         `json:"resourceType,omitempty"`
	AffectedResources []wireAffected `json:"affectedResources"`
	FirstDetected     string         `json:"firstDetected,omitempty"`
	LastDetected      string         `json:"lastDetected,omitempty"`
}

type wireAffected struct {
	ResourceInfo any    `json:"resourceInfo"` // a wireResource, or a bare id string
	State        string `json:"state"`
}

type wireResource struct {
	ResourceID   string            `json:"resourceId"`
	ResourceName string            `json:"resourceName,omitempty"`
	ResourceType string            `json:"resourceType,omitempty"`
	Region       string            `json:"region,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
	IsPublic     bool              `json:"isPublic,omitempty"`
}

type wireHost struct {
	AccountType string       `json:"accountType"`
	AccountID   string       `json:"accountId"`
	InstanceID  string       `json:"instanceId"`
	MoreInfo    wireHostInfo `json:"moreInfo"`
}

type wireHostInfo struct {
	Name              string            `json:"name"`
	Region            string            `json:"region"`
	InstanceType      string            `json:"instanceType,omitempty"`
	State             string            `json:"state"`
	PublicIP          string            `json:"publicIP,omitempty"`
	IsPublic          bool              `json:"isPublic"`
	Tags              map[string]string `json:"tags"`
	SecurityGroupList []wireSG          `json:"securityGroupList"`
}

type wireSG struct {
	GroupID      string     `json:"groupId"`
	GroupName    string     `json:"groupName"`
	InboundRules []wireRule `json:"inboundRules"`
}

type wireRule struct {
	Protocol string `json:"protocol"`
	FromPort int    `json:"fromPort"`
	ToPort   int    `json:"toPort"`
	CIDR     string `json:"cidr"`
}

// res is one resource alerts can be raised on.
type res struct {
	acct    *account
	id      string
	name    string
	rtype   string
	region  string
	tags    map[string]string
	public  bool
	inline  bool // send resourceInfo as an object (else a bare id string)
	groupID string
}

type builder struct {
	rng    *rand.Rand
	cat    *posture.Catalogue
	alerts []wireAlert
	hosts  []wireHost
	seen   map[string]bool // rule + resource: Optix raises a rule once per resource
}

func hexOf(n int, parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])[:n]
}

// scoreFor picks an Optix score in the band of a severity.
func (b *builder) scoreFor(sev posture.Severity) int {
	switch sev {
	case posture.SeverityCritical:
		return 90 + b.rng.IntN(9)
	case posture.SeverityHigh:
		return 80 + b.rng.IntN(10)
	case posture.SeverityMedium:
		return 50 + b.rng.IntN(30)
	}
	return 15 + b.rng.IntN(35)
}

var sevWords = map[posture.Severity]string{posture.SeverityCritical: "Critical", posture.SeverityHigh: "High",
	posture.SeverityMedium: "Medium", posture.SeverityLow: "Low", posture.SeverityInfo: "Low"}

// add raises one alert on rs. For an aliased rule the check's severity sets
// the score; sev overrides it when not unknown.
func (b *builder) add(rule, summary, rtype string, sev posture.Severity, rs ...*res) *wireAlert {
	var fresh []*res
	for _, r := range rs {
		if k := rule + "\x00" + r.id; !b.seen[k] {
			b.seen[k] = true
			fresh = append(fresh, r)
		}
	}
	if len(fresh) == 0 {
		return &wireAlert{} // already raised; the caller's edits go nowhere
	}
	rs = fresh
	a := rs[0].acct
	if sev == posture.SeverityUnknown {
		sev = posture.SeverityMedium
		if id, ok := b.cat.Alias(rule); ok {
			ch, _ := b.cat.Lookup(id)
			sev = ch.Severity
			if rtype == "" {
				rtype = ch.ResourceType
			}
		}
	}
	if summary == "" {
		summary = summaries[rule]
	}
	w := wireAlert{
		AccountID: a.id, AccountName: a.name, Provider: a.provider, Region: rs[0].region,
		Score: b.scoreFor(sev), Severity: sevWords[sev], AlertSummary: summary, AlertType: "Policy",
		RuleNumber: rule, ResourceType: rtype,
		FirstDetected: demoBase.Add(-time.Duration(1+b.rng.IntN(200*24)) * time.Hour).Format(time.RFC3339),
		LastDetected:  demoBase.Add(-time.Duration(b.rng.IntN(48*60)) * time.Minute).Format(time.RFC3339),
	}
	// Not every record carries every field: the client must cope.
	if b.rng.IntN(10) == 0 {
		w.Provider = ""
	}
	if b.rng.IntN(5) == 0 {
		w.Severity = ""
	}
	for _, r := range rs {
		var info any = r.id
		if r.inline {
			info = wireResource{ResourceID: r.id, ResourceName: r.name, ResourceType: r.rtype, Region: r.region,
				Tags: r.tags, IsPublic: r.public}
		}
		w.AffectedResources = append(w.AffectedResources, wireAffected{ResourceInfo: info, State: "OPEN"})
	}
	b.alerts = append(b.alerts, w)
	return &b.alerts[len(b.alerts)-1]
}

func (b *builder) tags(a *account, owner, app, data string) map[string]string {
	t := map[string]string{"environment": a.envTag, "owner": owner, "application": app}
	if data != "" {
		t["data-classification"] = data
	}
	return t
}

func buildDemo() *Estate {
	b := &builder{rng: rand.New(rand.NewPCG(20261203, 1)), cat: posture.DefaultCatalogue(), seen: map[string]bool{}}

	// The seed's example comes first so its alert ids are A-000001..3.
	pay := &accounts[0]
	seed := &res{acct: pay, id: DemoSeedBucket, name: "acme-finance-customer-exports", rtype: "AwsS3Bucket",
		region: "us-east-1", inline: true, public: true,
		tags: map[string]string{"environment": "production", "owner": "finance", "application": "customer-exports",
			"data-classification": "pii"}}
	b.add("AR-251", "", "", posture.SeverityCritical, seed).Score = 97
	b.add("AR-252", "", "", posture.SeverityCritical, seed).Score = 96
	b.add("AR-255", "", "", posture.SeverityMedium, seed).Score = 74

	var allHosts, allBuckets, allDBs []*res
	for i := range accounts {
		a := &accounts[i]
		hs := b.buildHosts(a)
		allHosts = append(allHosts, hs...)
		bs := b.buildBuckets(a)
		allBuckets = append(allBuckets, bs...)
		allDBs = append(allDBs, b.buildDBs(a)...)
		b.buildIdentities(a)
	}
	b.devBuckets(allBuckets)
	b.prodBuckets(allBuckets)

	// Fallback rules on existing resources.
	pick := map[string][]*res{"bucket": allBuckets, "host": awsOnly(allHosts), "db": allDBs}
	for _, fb := range fallbacks {
		pool := pick[fb.kind]
		for range 2 + b.rng.IntN(2) {
			r := pool[b.rng.IntN(len(pool))]
			b.add(fb.rule, fb.summary, r.rtype, posture.SeverityLow+posture.Severity(b.rng.IntN(2)), r)
		}
	}
	for _, g := range generics {
		for i := range accounts {
			a := &accounts[i]
			if a.provider != g.provider {
				continue
			}
			r := &res{acct: a, id: a.id, rtype: g.rtype, region: a.regions[0]}
			b.add(g.rule, g.summary, g.rtype, posture.SeverityLow, r)
		}
	}

	// Some alerts are no longer open: fixed or suppressed since.
	for i := 3; i < len(b.alerts); i++ {
		a := &b.alerts[i]
		if strings.HasPrefix(a.AccountName, "aws-dev") || strings.HasPrefix(a.AccountName, "aws-sandbox") {
			if strings.HasPrefix(a.RuleNumber, "AR-25") {
				continue // the 500 dev/sandbox S3 findings stay open
			}
		}
		switch b.rng.IntN(14) {
		case 0:
			a.AffectedResources[0].State = "RESOLVED"
		case 1:
			a.AffectedResources[0].State = "SUPPRESSED"
		}
	}

	e := &Estate{}
	for i := range b.alerts {
		b.alerts[i].AlertID = fmt.Sprintf("A-%06d", i+1)
		e.Alerts = append(e.Alerts, mustJSON(b.alerts[i]))
	}
	for _, h := range b.hosts {
		e.Hosts = append(e.Hosts, mustJSON(h))
	}
	return e
}

func awsOnly(rs []*res) []*res {
	var out []*res
	for _, r := range rs {
		if r.acct.provider == "AWS" {
			out = append(out, r)
		}
	}
	return out
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own plain structs are marshalled
	}
	return b
}

// buildHosts adds a's inventory and the alerts on its network exposure,
// volumes and tags.
func (b *builder) buildHosts(a *account) []*res {
	var out []*res
	ipBlock := map[string]string{"AWS": "203.0.113.", "Azure": "198.51.100.", "GCP": "192.0.2."}[a.provider]
	for i := range a.hosts {
		role := a.hostRoles[i%len(a.hostRoles)]
		name := fmt.Sprintf("%s-%02d", role, i/len(a.hostRoles)+1)
		region := a.regions[i%len(a.regions)]
		h := wireHost{AccountType: a.provider, AccountID: a.id}
		var sgID, sgName, rtypeSG, zone string
		switch a.provider {
		case "AWS":
			h.InstanceID = "i-0" + hexOf(16, a.id, name)
			sgID, sgName = "sg-0"+hexOf(16, a.id, name, "sg"), name+"-sg"
			rtypeSG = "AwsEc2SecurityGroup"
			h.MoreInfo.InstanceType = []string{"t3.medium", "m6i.large", "c6g.xlarge"}[b.rng.IntN(3)]
		case "Azure":
			rg := "rg-" + a.app
			h.InstanceID = fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s", a.id, rg, name)
			sgName = "nsg-" + name
			sgID = fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/networkSecurityGroups/%s", a.id, rg, sgName)
			rtypeSG = "microsoft.network/networksecuritygroups"
			h.MoreInfo.InstanceType = "Standard_D2s_v5"
		case "GCP":
			zone = region + "-" + string(rune('a'+i%3))
			h.InstanceID = fmt.Sprintf("projects/%s/zones/%s/instances/%s", a.id, zone, name)
			sgName = "allow-" + name
			sgID = fmt.Sprintf("projects/%s/global/firewalls/%s", a.id, sgName)
			rtypeSG = "compute.googleapis.com/Firewall"
			h.MoreInfo.InstanceType = "e2-standard-4"
		}
		public := role == "bastion" || role == "jump" || strings.Contains(role, "frontend") ||
			strings.Contains(role, "cdn") || role == "hr-portal" || role == "dash-api" || b.rng.Float64() < 0.15
		h.MoreInfo.Name, h.MoreInfo.Region, h.MoreInfo.State, h.MoreInfo.IsPublic = name, region, "running", public
		if public {
			h.MoreInfo.PublicIP = fmt.Sprintf("%s%d", ipBlock, 10+len(b.hosts)%240)
		}
		data := a.data
		if strings.Contains(role, "ledger") || strings.Contains(role, "payroll") {
			data = "pii"
		}
		untagged := a.provider == "AWS" && b.rng.Float64() < 0.15 && role != "bastion"
		if !untagged {
			h.MoreInfo.Tags = b.tags(a, a.owner, a.app, data)
			h.MoreInfo.Tags["Name"] = name
		}
		if a.name == "aws-sandbox" && i == 3 {
			// Tag text is untrusted: this must reach chat as plain words.
			h.MoreInfo.Tags["contact"] = "<!channel> @here ping ops <https://evil.example|click>"
		}
		var rules []wireRule
		if public {
			rules = append(rules, wireRule{"tcp", 443, 443, "0.0.0.0/0"})
		}
		rules = append(rules, wireRule{"tcp", 22, 22, "10.0.0.0/8"})
		ssh := role == "bastion" || role == "jump" || b.rng.Float64() < a.exposure
		rdp := a.provider != "GCP" && b.rng.Float64() < a.exposure/2
		all := a.provider == "AWS" && b.rng.Float64() < a.exposure/4
		if ssh {
			rules = append(rules, wireRule{"tcp", 22, 22, "0.0.0.0/0"})
		}
		if rdp {
			rules = append(rules, wireRule{"tcp", 3389, 3389, "0.0.0.0/0"})
		}
		if all {
			rules = append(rules, wireRule{"-1", 0, 65535, "0.0.0.0/0"})
		}
		h.MoreInfo.SecurityGroupList = []wireSG{{GroupID: sgID, GroupName: sgName, InboundRules: rules}}
		b.hosts = append(b.hosts, h)

		host := &res{acct: a, id: h.InstanceID, name: name, region: region, public: public, groupID: sgID,
			rtype: map[string]string{"AWS": "AwsEc2Instance", "Azure": "microsoft.compute/virtualmachines",
				"GCP": "compute.googleapis.com/Instance"}[a.provider]}
		out = append(out, host)
		sg := &res{acct: a, id: sgID, name: sgName, rtype: rtypeSG, region: region, inline: true}
		rs := map[string][3]string{"AWS": {"AR-651", "AR-652", "AR-653"}, "Azure": {"AZ-201", "AZ-202", ""},
			"GCP": {"GCP-201", "GCP-202", ""}}[a.provider]
		if ssh {
			b.add(rs[0], "", "", 0, sg)
		}
		if rdp {
			b.add(rs[1], "", "", 0, sg)
		}
		if all && rs[2] != "" {
			b.add(rs[2], "", "", 0, sg)
		}
		if a.provider == "AWS" && b.rng.Float64() < 0.3 {
			vol := &res{acct: a, id: "vol-0" + hexOf(16, h.InstanceID, "vol"), rtype: "AwsEc2Volume", region: region,
				name: name + "-root", inline: true}
			b.add("AR-301", "", "", 0, vol)
		}
		if untagged {
			b.add("AR-901", "", "AwsEc2Instance", 0, &res{acct: a, id: h.InstanceID, name: name, rtype: "AwsEc2Instance",
				region: region, inline: true})
		}
	}
	return out
}

var bucketPurposes = []string{"logs", "artifacts", "exports", "backups", "uploads", "reports", "datasets", "tmp",
	"terraform-state", "static", "ml-models", "scratch", "audit", "media"}
var devTeams = []string{"platform", "checkout", "search", "data", "mobile", "identity", "growth", "infra"}

// buildBuckets makes a's buckets (S3, Azure storage accounts, GCS) and the
// non-S3 alerts on them; S3 alerts come later.
func (b *builder) buildBuckets(a *account) []*res {
	var out []*res
	for i := range a.buckets {
		purpose := bucketPurposes[(i*5+len(a.id))%len(bucketPurposes)]
		team := a.owner
		if a.env == "dev" || a.env == "sandbox" {
			team = devTeams[i%len(devTeams)]
		}
		region := a.regions[i%len(a.regions)]
		data := a.data
		if purpose == "static" || purpose == "media" {
			data = "public"
		}
		switch a.provider {
		case "AWS":
			prefix := map[string]string{"production": "acme-" + a.app, "staging": "acme-stg", "dev": "acme-dev",
				"sandbox": "acme-sbx"}[a.env]
			name := fmt.Sprintf("%s-%s-%s-%02d", prefix, team, purpose, i+1)
			if a.env == "production" || a.env == "staging" {
				name = fmt.Sprintf("%s-%s-%d", prefix, purpose, i+1)
			}
			out = append(out, &res{acct: a, id: "arn:aws:s3:::" + name, name: name, rtype: "AwsS3Bucket", region: region,
				inline: true, tags: b.tags(a, team, a.app, data)})
		case "Azure":
			name := fmt.Sprintf("acme%s%s%02d", strings.ReplaceAll(a.app, "-", ""), map[string]string{"production": "prod", "dev": "dev"}[a.env], i+1)
			r := &res{acct: a, id: fmt.Sprintf("/subscriptions/%s/resourceGroups/rg-%s/providers/Microsoft.Storage/storageAccounts/%s", a.id, a.app, name),
				name: name, rtype: "microsoft.storage/storageaccounts", region: region, inline: true, tags: b.tags(a, team, a.app, data)}
			out = append(out, r)
			if b.rng.Float64() < 0.5 {
				r.public = true
				b.add("AZ-101", "", "", 0, r)
			}
			if b.rng.Float64() < 0.4 {
				b.add("AZ-102", "", "", 0, r)
			}
		case "GCP":
			name := fmt.Sprintf("%s-%s-%02d", a.id, purpose, i+1)
			r := &res{acct: a, id: "projects/_/buckets/" + name, name: name, rtype: "storage.googleapis.com/Bucket",
				region: region, inline: true, tags: b.tags(a, team, a.app, data)}
			out = append(out, r)
			p := 0.35
			if a.env == "sandbox" {
				p = 0.7
			}
			if b.rng.Float64() < p {
				r.public = true
				b.add("GCP-101", "", "", 0, r)
			}
		}
	}
	return out
}

// devBuckets raises exactly 500 S3 findings on the dev and sandbox buckets,
// most of them on the kinds with remediation templates and many of them
// public (critical): the noise the ranking must not let crowd out the seed.
func (b *builder) devBuckets(all []*res) {
	rules := []string{"AR-251", "AR-255", "AR-254", "AR-256", "AR-257"}
	weight := []float64{1.0, 0.9, 0.6, 0.22, 0.1}
	type cand struct {
		r    *res
		rule int
		key  float64
		pos  int
	}
	var cands []cand
	for i, r := range all {
		if r.acct.provider != "AWS" || (r.acct.env != "dev" && r.acct.env != "sandbox") {
			continue
		}
		for j := range rules {
			cands = append(cands, cand{r: r, rule: j, key: b.rng.Float64() / weight[j], pos: i*len(rules) + j})
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].key < cands[j].key })
	cands = cands[:500]
	sort.Slice(cands, func(i, j int) bool { return cands[i].pos < cands[j].pos })
	for _, c := range cands {
		if c.rule == 0 {
			c.r.public = true
		}
		b.add(rules[c.rule], "", "", 0, c.r)
	}
}

// prodBuckets raises the production and staging S3 alerts.
func (b *builder) prodBuckets(all []*res) {
	for _, r := range all {
		if r.acct.provider != "AWS" || r.acct.env == "dev" || r.acct.env == "sandbox" {
			continue
		}
		if r.tags["data-classification"] == "public" {
			r.public = true
			b.add("AR-251", "", "", posture.SeverityCritical, r) // public by design, still reported
		}
		for i, rule := range []string{"AR-255", "AR-254", "AR-256", "AR-257"} {
			if b.rng.Float64() < []float64{0.35, 0.25, 0.15, 0.1}[i] {
				b.add(rule, "", "", 0, r)
			}
		}
	}
}

var dbNames = []string{"ledger", "orders", "sessions", "catalog", "analytics", "billing", "inventory", "audit"}

func (b *builder) buildDBs(a *account) []*res {
	var out []*res
	for i := range a.dbs {
		name := fmt.Sprintf("%s-%s-db-%d", a.app, dbNames[(i+len(a.name))%len(dbNames)], i+1)
		region := a.regions[i%len(a.regions)]
		r := &res{acct: a, id: fmt.Sprintf("arn:aws:rds:%s:%s:db:%s", region, a.id, name), name: name,
			rtype: "AwsRdsDbInstance", region: region, inline: true, tags: b.tags(a, a.owner, a.app, a.data)}
		out = append(out, r)
		if b.rng.Float64() < 0.5 {
			b.add("AR-351", "", "", 0, r)
		}
		// Public databases are a dev and staging habit in this estate.
		if a.env != "production" && b.rng.Float64() < 0.3 {
			r.public = true
			b.add("AR-352", "", "", 0, r)
		}
	}
	return out
}

var userNames = []string{"jsmith", "apatel", "mgarcia", "lchen", "okim", "rnovak", "contractor-ak", "svc-ci-deploy",
	"svc-backup", "analytics-ro", "tmp-migration", "breakglass-admin"}

// buildIdentities raises IAM and CloudTrail alerts for an AWS account.
// Identity resources are sent as bare ARN strings, as some Optix records do.
func (b *builder) buildIdentities(a *account) {
	if a.provider != "AWS" {
		return
	}
	var noMFA []*res
	for i := range a.users {
		u := userNames[(i*7+len(a.name))%len(userNames)]
		r := &res{acct: a, id: fmt.Sprintf("arn:aws:iam::%s:user/%s", a.id, u), name: u, rtype: "AwsIamUser", region: "global"}
		if !strings.HasPrefix(u, "svc-") && b.rng.Float64() < 0.55 {
			noMFA = append(noMFA, r)
		}
		if b.rng.Float64() < 0.3 {
			b.add("AR-104", "", "", 0, r)
		}
	}
	// Optix groups users without MFA into alerts of a few resources each.
	for len(noMFA) > 0 {
		n := min(len(noMFA), 1+b.rng.IntN(3))
		b.add("AR-101", "", "", 0, noMFA[:n]...)
		noMFA = noMFA[n:]
	}
	for i, p := range []string{"AdminAll-legacy", "DevOpsFullAccess", "DataScienceStar", "MigrationTemp"} {
		if b.rng.Float64() < 0.5 {
			continue
		}
		r := &res{acct: a, id: fmt.Sprintf("arn:aws:iam::%s:policy/%s", a.id, p), name: p, rtype: "AwsIamPolicy", region: "global"}
		if i%2 == 0 {
			b.add("AR-102", "", "", 0, r)
		} else {
			b.add("AR-103", "", "", 0, r)
		}
	}
	if a.env != "production" {
		// An account-level alert: the trail that should exist does not.
		b.add("AR-151", "", "", 0, &res{acct: a, id: fmt.Sprintf("arn:aws:cloudtrail:%s:%s:trail/org-trail", a.regions[0], a.id),
			name: "org-trail", rtype: "AwsCloudTrailTrail", region: a.regions[0], inline: true})
	}
}

// centralAlerts makes n Sophos Central (endpoint) alerts for a tenant.
func centralAlerts(tenantID, tenantName string, n int) []json.RawMessage {
	kinds := []struct{ cat, typ, sev, desc string }{
		{"malware", "Event::Endpoint::Threat::Detected", "high", "Malware detected: 'Troj/Agent-BXYZ' at 'C:\\Users\\Public\\invoice.exe'"},
		{"policy", "Event::Endpoint::UpdateFailure", "medium", "Failed to protect computer: update failure"},
		{"pua", "Event::Endpoint::Threat::PuaDetected", "low", "PUA detected: 'PsExec'"},
	}
	out := make([]json.RawMessage, 0, n)
	for i := range n {
		k := kinds[i%len(kinds)]
		out = append(out, mustJSON(map[string]any{
			"id": fmt.Sprintf("%s-%04d", hexOf(8, tenantID), i+1), "category": k.cat, "type": k.typ, "severity": k.sev,
			"description": k.desc, "product": "endpoint", "raisedAt": demoBase.Add(-time.Duration(i) * time.Hour).Format(time.RFC3339),
			"allowedActions": []string{"acknowledge"},
			"managedAgent":   map[string]string{"id": hexOf(12, tenantID, fmt.Sprint(i)), "type": "computer"},
			"tenant":         map[string]string{"id": tenantID, "name": tenantName},
		}))
	}
	return out
}
