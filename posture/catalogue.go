package posture

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Check is one kind of misconfiguration, from the embedded catalogue derived
// from Prowler's check metadata (see catalogue/NOTICE).
type Check struct {
	ID           string   `json:"id"`
	Provider     string   `json:"provider"`
	Service      string   `json:"service"`
	Severity     Severity `json:"severity"`
	ResourceType string   `json:"resource_type"`
	Categories   []string `json:"categories,omitempty"`
	Title        string   `json:"title"`
}

// Has reports whether the check carries the category, e.g. "internet-exposed".
func (c *Check) Has(category string) bool {
	for _, x := range c.Categories {
		if x == category {
			return true
		}
	}
	return false
}

// GenericCheck is the kind given to a finding whose rule matches nothing in
// the catalogue. Such findings keep their source severity and are still
// ranked: a finding is never dropped for being unknown.
const GenericCheck = "generic"

//go:embed catalogue/checks.tsv
var catalogueTSV []byte

// Catalogue indexes the embedded checks. It is read-only after Load and safe
// for concurrent use.
type Catalogue struct {
	byID     map[string]*Check
	byProvID map[string]*Check   // provider + "/" + id
	byType   map[string][]*Check // provider + "/" + lower-case resource type
	aliases  map[string]string   // Optix rule number -> check id
	ordered  []*Check
	generic  Check
	services map[string]bool
}

var (
	defaultOnce sync.Once
	defaultCat  *Catalogue
	defaultErr  error
)

// DefaultCatalogue returns the embedded catalogue, parsed once.
func DefaultCatalogue() *Catalogue {
	defaultOnce.Do(func() { defaultCat, defaultErr = ParseCatalogue(catalogueTSV) })
	if defaultErr != nil {
		// The file is embedded at build time and covered by tests; failing
		// here means the binary itself is broken.
		panic(fmt.Sprintf("embedded catalogue: %v", defaultErr))
	}
	return defaultCat
}

// ParseCatalogue reads the tab-separated catalogue format written by
// internal/gencatalogue.
func ParseCatalogue(b []byte) (*Catalogue, error) {
	c := &Catalogue{
		byID:     map[string]*Check{},
		byProvID: map[string]*Check{},
		byType:   map[string][]*Check{},
		aliases:  map[string]string{},
		services: map[string]bool{},
		generic:  Check{ID: GenericCheck, Title: "Misconfiguration reported by the source"},
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Split(text, "\t")
		if len(f) != 6 {
			return nil, fmt.Errorf("catalogue line %d: want 6 fields, got %d", line, len(f))
		}
		ch := &Check{
			Provider:     f[0],
			ID:           f[1],
			Service:      f[2],
			Severity:     ParseSeverity(f[3]),
			ResourceType: f[4],
		}
		if f[5] != "" {
			ch.Categories = strings.Split(f[5], ",")
		}
		ch.Title = checkTitle(ch.ID)
		c.add(ch)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read catalogue: %w", err)
	}
	for i := range ownChecks {
		ch := ownChecks[i]
		ch.Title = checkTitle(ch.ID)
		c.add(&ch)
	}
	for rule, id := range optixAliases {
		if _, ok := c.byID[id]; !ok {
			return nil, fmt.Errorf("alias %s names unknown check %s", rule, id)
		}
		c.aliases[rule] = id
	}
	return c, nil
}

// add indexes a check. Check ids are unique per provider; the one id that
// Prowler uses for two providers (kms_key_not_publicly_accessible) is kept
// under its first provider by id, and both stay reachable by resource type.
func (c *Catalogue) add(ch *Check) {
	if _, dup := c.byID[ch.ID]; !dup {
		c.byID[ch.ID] = ch
	}
	c.byProvID[ch.Provider+"/"+ch.ID] = ch
	k := ch.Provider + "/" + strings.ToLower(ch.ResourceType)
	c.byType[k] = append(c.byType[k], ch)
	c.ordered = append(c.ordered, ch)
	c.services[ch.Provider+"/"+ch.Service] = true
}

// ownChecks are kinds optix-bot adds to Prowler's catalogue: Cloud Optix
// reports them (tag policy violations) and Prowler has no check of that name.
var ownChecks = []Check{
	{ID: "resource_missing_required_tags", Provider: "aws", Service: "tagging", Severity: SeverityLow,
		ResourceType: "Other", Categories: []string{"governance"}},
}

// Len is the number of checks.
func (c *Catalogue) Len() int { return len(c.ordered) }

// Checks returns every check in catalogue order (provider, then id).
func (c *Catalogue) Checks() []*Check { return c.ordered }

// Lookup finds a check by id; the generic check answers for GenericCheck.
func (c *Catalogue) Lookup(id string) (*Check, bool) {
	if id == GenericCheck {
		return &c.generic, true
	}
	ch, ok := c.byID[id]
	return ch, ok
}

// Generic is the catch-all check kind.
func (c *Catalogue) Generic() *Check { return &c.generic }

// Aliases returns the known Optix rule numbers, sorted.
func (c *Catalogue) Aliases() []string {
	out := make([]string, 0, len(c.aliases))
	for r := range c.aliases {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// Alias returns the check id a known Optix rule number stands for.
func (c *Catalogue) Alias(rule string) (string, bool) {
	id, ok := c.aliases[strings.ToUpper(strings.TrimSpace(rule))]
	return id, ok
}

// Resolve maps a source's rule to a catalogue check, in order of confidence:
// the rule is itself a check id (Prowler, or Security Hub's GeneratorId
// naming one); it is a known Cloud Optix alias; the resource type and summary
// text point to one check of that type; else the generic kind. It never
// fails: a finding is never dropped for an unknown rule.
func (c *Catalogue) Resolve(provider, rule, resourceType, summary string) *Check {
	p := NormalizeProvider(provider)
	if ch, ok := c.byProvID[p+"/"+rule]; ok {
		return ch
	}
	if ch, ok := c.byID[rule]; ok {
		return ch
	}
	if id, ok := c.Alias(rule); ok {
		return c.byID[id]
	}
	cands := c.byType[p+"/"+strings.ToLower(resourceType)]
	if len(cands) == 0 {
		cands = c.byType[p+"/"+strings.ToLower(canonicalResourceType(p, resourceType))]
	}
	if len(cands) == 0 || summary == "" {
		return &c.generic
	}
	words := summaryWords(summary)
	var best *Check
	bestScore := 0
	for _, ch := range cands {
		s := 0
		for _, part := range strings.Split(ch.ID, "_") {
			if len(part) > 2 && words[part] {
				s++
			}
		}
		if s > bestScore {
			best, bestScore = ch, s
		}
	}
	// One shared word (say "bucket") is not evidence; two are.
	if bestScore < 2 {
		return &c.generic
	}
	return best
}

func summaryWords(s string) map[string]bool {
	w := map[string]bool{}
	for _, f := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		w[f] = true
		// "buckets" should match "bucket", "encrypted" "encryption" loosely.
		w[strings.TrimSuffix(f, "s")] = true
		if strings.HasPrefix(f, "encrypt") {
			w["encryption"], w["encrypted"] = true, true
		}
		if f == "public" || f == "publicly" {
			w["public"], w["publicly"] = true, true
		}
	}
	return w
}

// canonicalResourceType maps the resource type words a source may use
// ("S3 bucket", "EC2 security group", "Storage account") to the catalogue's.
func canonicalResourceType(provider, t string) string {
	k := strings.ToLower(strings.NewReplacer(" ", "", "_", "", "-", "").Replace(t))
	switch provider {
	case "aws":
		switch k {
		case "s3", "s3bucket", "bucket":
			return "AwsS3Bucket"
		case "securitygroup", "ec2securitygroup", "sg":
			return "AwsEc2SecurityGroup"
		case "ec2", "instance", "ec2instance", "vm":
			return "AwsEc2Instance"
		case "rds", "rdsinstance", "dbinstance":
			return "AwsRdsDbInstance"
		case "iamuser", "user":
			return "AwsIamUser"
		case "iampolicy", "policy":
			return "AwsIamPolicy"
		case "iamrole", "role":
			return "AwsIamRole"
		case "ebs", "ebsvolume", "volume":
			return "AwsEc2Volume"
		case "cloudtrail", "trail":
			return "AwsCloudTrailTrail"
		case "lambda", "lambdafunction":
			return "AwsLambdaFunction"
		}
	case "azure":
		switch k {
		case "storageaccount", "storage":
			return "microsoft.storage/storageaccounts"
		case "nsg", "networksecuritygroup":
			return "microsoft.network/networksecuritygroups"
		case "vm", "virtualmachine":
			return "microsoft.compute/virtualmachines"
		}
	case "gcp":
		switch k {
		case "bucket", "storagebucket", "gcsbucket":
			return "storage.googleapis.com/Bucket"
		case "firewall", "firewallrule":
			return "compute.googleapis.com/Firewall"
		case "instance", "vm", "computeinstance":
			return "compute.googleapis.com/Instance"
		}
	}
	return t
}

// NormalizeProvider maps provider spellings (AWS, Amazon, Azure, GCP, Google)
// to the catalogue's lower-case names; unknown providers pass through lower
// cased so they still rank under the generic kind.
func NormalizeProvider(p string) string {
	switch strings.ToLower(strings.TrimSpace(p)) {
	case "aws", "amazon", "amazon web services":
		return "aws"
	case "azure", "microsoft", "microsoft azure":
		return "azure"
	case "gcp", "google", "google cloud", "googlecloud":
		return "gcp"
	}
	return strings.ToLower(strings.TrimSpace(p))
}

// checkTitle turns a check id into a short readable title: our own wording
// for the kinds that matter most, else the id's words marked as a failed
// check, because a check id names the desired state ("EC2 instance managed
// by SSM") and on its own would read as the opposite of the finding.
func checkTitle(id string) string {
	if t, ok := titles[id]; ok {
		return t
	}
	words := strings.Split(id, "_")
	for i, w := range words {
		if up, ok := acronyms[w]; ok {
			words[i] = up
		}
	}
	if len(words) > 0 {
		words[0] = strings.ToUpper(words[0][:1]) + words[0][1:]
	}
	return strings.Join(words, " ") + " (check failed)"
}

var acronyms = map[string]string{
	"s3": "S3", "ec2": "EC2", "iam": "IAM", "rds": "RDS", "ebs": "EBS", "kms": "KMS", "mfa": "MFA",
	"vpc": "VPC", "elb": "ELB", "elbv2": "ELBv2", "acm": "ACM", "tls": "TLS", "ssl": "SSL", "sql": "SQL",
	"tcp": "TCP", "udp": "UDP", "nsg": "NSG", "aks": "AKS", "eks": "EKS", "gke": "GKE", "sns": "SNS",
	"sqs": "SQS", "dns": "DNS", "api": "API", "cmk": "CMK", "imdsv2": "IMDSv2", "ssh": "SSH", "rdp": "RDP",
	"http": "HTTP", "https": "HTTPS", "waf": "WAF", "acl": "ACL", "sa": "SA", "ecr": "ECR", "ecs": "ECS",
	"awslambda": "Lambda", "cloudtrail": "CloudTrail", "cloudwatch": "CloudWatch", "guardduty": "GuardDuty",
	"cloudstorage": "Cloud Storage", "cloudsql": "Cloud SQL", "dynamodb": "DynamoDB", "emr": "EMR",
	"ssm": "SSM", "ami": "AMI", "vm": "VM", "vms": "VMs", "ip": "IP", "efs": "EFS", "arn": "ARN", "url": "URL",
}

// titles are optix-bot's own wording for the kinds the demo estate and the
// remediation templates use most.
var titles = map[string]string{
	"s3_bucket_public_access":                                        "S3 bucket readable or listable by anyone",
	"s3_bucket_public_write_acl":                                     "S3 bucket ACL lets anyone write",
	"s3_bucket_public_list_acl":                                      "S3 bucket ACL lets anyone list objects",
	"s3_bucket_policy_public_write_access":                           "S3 bucket policy lets anyone write",
	"s3_bucket_level_public_access_block":                            "S3 bucket has Block Public Access off",
	"s3_bucket_default_encryption":                                   "S3 bucket without default encryption",
	"s3_bucket_kms_encryption":                                       "S3 bucket not encrypted with a KMS key",
	"s3_bucket_object_versioning":                                    "S3 bucket without versioning",
	"s3_bucket_server_access_logging_enabled":                        "S3 bucket without access logging",
	"s3_bucket_secure_transport_policy":                              "S3 bucket allows plain HTTP",
	"ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22":   "Security group opens SSH (22) to the internet",
	"ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_3389": "Security group opens RDP (3389) to the internet",
	"ec2_securitygroup_allow_ingress_from_internet_to_all_ports":     "Security group opens every port to the internet",
	"ec2_securitygroup_allow_ingress_from_internet_to_any_port":      "Security group opens a port to the internet",
	"ec2_ebs_volume_encryption":                                      "EBS volume not encrypted",
	"ec2_ebs_default_encryption":                                     "EBS encryption by default is off",
	"ec2_instance_public_ip":                                         "EC2 instance has a public IP",
	"rds_instance_storage_encrypted":                                 "RDS instance has unencrypted storage",
	"rds_instance_no_public_access":                                  "RDS instance reachable from the internet",
	"iam_policy_allows_privilege_escalation":                         "IAM policy allows privilege escalation",
	"iam_customer_attached_policy_no_administrative_privileges":      "IAM policy grants *:* (administrator)",
	"iam_inline_policy_no_administrative_privileges":                 "Inline IAM policy grants *:* (administrator)",
	"iam_user_mfa_enabled_console_access":                            "IAM user has no MFA for console access",
	"iam_root_mfa_enabled":                                           "Root account has no MFA",
	"iam_rotate_access_key_90_days":                                  "Access key is older than 90 days",
	"iam_user_accesskey_unused":                                      "Unused IAM access key",
	"cloudtrail_multi_region_enabled":                                "CloudTrail not logging in every region",
	"awslambda_function_no_secrets_in_variables":                     "Lambda environment holds a secret",
	"storage_blob_public_access_level_is_disabled":                   "Storage account allows public blob access",
	"storage_secure_transfer_required_is_enabled":                    "Storage account allows plain HTTP",
	"storage_ensure_encryption_with_customer_managed_keys":           "Storage account not encrypted with a customer key",
	"network_ssh_internet_access_restricted":                         "NSG opens SSH (22) to the internet",
	"network_rdp_internet_access_restricted":                         "NSG opens RDP (3389) to the internet",
	"cloudstorage_bucket_public_access":                              "GCS bucket readable by allUsers",
	"cloudstorage_bucket_uniform_bucket_level_access":                "GCS bucket without uniform access",
	"cloudstorage_bucket_versioning_enabled":                         "GCS bucket without versioning",
	"compute_firewall_ssh_access_from_the_internet_allowed":          "Firewall rule opens SSH (22) to 0.0.0.0/0",
	"compute_firewall_rdp_access_from_the_internet_allowed":          "Firewall rule opens RDP (3389) to 0.0.0.0/0",
	"compute_instance_public_ip":                                     "Compute instance has a public IP",
}

// optixAliases maps Cloud Optix rule numbers whose meaning is documented
// publicly (AR-251 public S3 read/list, AR-651 SSH open to the world) or
// used by the demo estate to catalogue checks. Any other rule number falls
// back to resource type and summary text.
var optixAliases = map[string]string{
	"AR-251":  "s3_bucket_public_access",
	"AR-252":  "s3_bucket_public_write_acl",
	"AR-253":  "s3_bucket_policy_public_write_access",
	"AR-254":  "s3_bucket_level_public_access_block",
	"AR-255":  "s3_bucket_default_encryption",
	"AR-256":  "s3_bucket_object_versioning",
	"AR-257":  "s3_bucket_server_access_logging_enabled",
	"AR-651":  "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22",
	"AR-652":  "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_3389",
	"AR-653":  "ec2_securitygroup_allow_ingress_from_internet_to_all_ports",
	"AR-301":  "ec2_ebs_volume_encryption",
	"AR-351":  "rds_instance_storage_encrypted",
	"AR-352":  "rds_instance_no_public_access",
	"AR-101":  "iam_user_mfa_enabled_console_access",
	"AR-102":  "iam_customer_attached_policy_no_administrative_privileges",
	"AR-103":  "iam_policy_allows_privilege_escalation",
	"AR-104":  "iam_rotate_access_key_90_days",
	"AR-151":  "cloudtrail_multi_region_enabled",
	"AZ-101":  "storage_blob_public_access_level_is_disabled",
	"AZ-102":  "storage_secure_transfer_required_is_enabled",
	"AZ-201":  "network_ssh_internet_access_restricted",
	"AZ-202":  "network_rdp_internet_access_restricted",
	"AR-901":  "resource_missing_required_tags",
	"GCP-101": "cloudstorage_bucket_public_access",
	"GCP-201": "compute_firewall_ssh_access_from_the_internet_allowed",
	"GCP-202": "compute_firewall_rdp_access_from_the_internet_allowed",
}
