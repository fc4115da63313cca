package rules

import (
	"fmt"
	"strconv"
	"strings"
)

// AWS type tokens (pulumi-aws v6.83.4).
const (
	awsBucket                  = "aws:s3/bucket:Bucket"
	awsBucketV2                = "aws:s3/bucketV2:BucketV2"
	awsBucketSSEConfigV2       = "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
	awsBucketPublicAccessBlock = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
	awsAcctPublicAccessBlock   = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
	awsKMSKey                  = "aws:kms/key:Key"
	awsSecurityGroup           = "aws:ec2/securityGroup:SecurityGroup"
	awsSecurityGroupRule       = "aws:ec2/securityGroupRule:SecurityGroupRule"
	awsSGIngressRule           = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	awsIAMRole                 = "aws:iam/role:Role"
	awsProvider                = "pulumi:providers:aws"
)

// awsIAMPolicyTypes carry a policy document in their `policy` input.
var awsIAMPolicyTypes = map[string]bool{
	"aws:iam/policy:Policy":           true,
	"aws:iam/rolePolicy:RolePolicy":   true,
	"aws:iam/userPolicy:UserPolicy":   true,
	"aws:iam/groupPolicy:GroupPolicy": true,
}

var publicAccessBlockFields = []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"}

func awsS3PublicAccessBlock() Rule {
	return Rule{
		Name: "aws-s3-public-access-block",
		Description: "S3 public access blocks (bucket and account) set blockPublicAcls, blockPublicPolicy, " +
			"ignorePublicAcls and restrictPublicBuckets to true.",
		Provider: "aws",
		Level:    Mandatory,
		Check: func(r Resource, _ Config) []Violation {
			if r.Type != awsBucketPublicAccessBlock && r.Type != awsAcctPublicAccessBlock {
				return nil
			}
			var off []string
			for _, f := range publicAccessBlockFields {
				v := r.Properties[f]
				if IsUnknown(v) {
					continue
				}
				if b, ok := asBool(v); !ok || !b {
					off = append(off, f)
				}
			}
			if len(off) == 0 {
				return nil
			}
			return []Violation{{
				Message:     fmt.Sprintf("%s is not true (unset means false).", strings.Join(off, ", ")),
				Remediation: fmt.Sprintf("set %s to true.", strings.Join(off, ", ")),
			}}
		},
	}
}

// awsS3Encryption is a stack rule because a bucket's default encryption may
// be configured by a separate BucketServerSideEncryptionConfigurationV2.
func awsS3Encryption() Rule {
	return Rule{
		Name: "aws-s3-encryption",
		Description: "S3 buckets configure default server-side encryption explicitly, inline or with a " +
			"BucketServerSideEncryptionConfigurationV2.",
		Provider: "aws",
		Level:    Advisory,
		CheckStack: func(rs []Resource, _ Config) []Violation {
			coveredURN := map[string]bool{}
			coveredName := map[string]bool{}
			for _, r := range rs {
				if r.Type != awsBucketSSEConfigV2 || !sseRulesSet(r.Properties["rules"]) {
					continue
				}
				for _, u := range r.PropertyDependencies["bucket"] {
					coveredURN[u] = true
				}
				if b, ok := asString(r.Properties["bucket"]); ok && b != "" {
					coveredName[b] = true
				}
			}
			var vs []Violation
			for _, r := range rs {
				if r.Type != awsBucket && r.Type != awsBucketV2 {
					continue
				}
				if coveredURN[r.URN] || hasInlineSSE(r) {
					continue
				}
				if b, ok := asString(r.Properties["bucket"]); ok && coveredName[b] {
					continue
				}
				if id, ok := asString(r.Properties["id"]); ok && coveredName[id] {
					continue
				}
				vs = append(vs, Violation{
					URN:     r.URN,
					Message: fmt.Sprintf("bucket %q has no explicit default encryption configuration.", r.Name),
					Remediation: "add an aws.s3.BucketServerSideEncryptionConfigurationV2 with bucket set to this bucket's id " +
						"and rules[0].applyServerSideEncryptionByDefault.sseAlgorithm set to \"aws:kms\" (or \"AES256\").",
				})
			}
			return vs
		},
	}
}

// sseRulesSet reports whether a BucketServerSideEncryptionConfigurationV2's
// rules name an algorithm (an unknown algorithm counts as set).
func sseRulesSet(v any) bool {
	if IsUnknown(v) {
		return true
	}
	rules, _ := asSlice(v)
	for _, e := range rules {
		alg, ok := get(asMapOrNil(e), "applyServerSideEncryptionByDefault", "sseAlgorithm")
		if s, _ := asString(alg); ok && (IsUnknown(alg) || s != "") {
			return true
		}
	}
	return false
}

// hasInlineSSE reports whether a bucket's own outputs carry a known default
// encryption configuration: Bucket.serverSideEncryptionConfiguration.rule
// or BucketV2.serverSideEncryptionConfigurations[].rules[]. In a preview an
// attribute the program did not set is unknown (AWS fills it in on create),
// so unknown counts as "not configured explicitly" here.
func hasInlineSSE(r Resource) bool {
	switch r.Type {
	case awsBucket:
		alg, ok := get(r.Properties, "serverSideEncryptionConfiguration", "rule",
			"applyServerSideEncryptionByDefault", "sseAlgorithm")
		s, _ := asString(alg)
		return ok && s != ""
	case awsBucketV2:
		confs, _ := asSlice(r.Properties["serverSideEncryptionConfigurations"])
		for _, c := range confs {
			rules, _ := asSlice(asMapOrNil(c)["rules"])
			for _, rule := range rules {
				defs, _ := asSlice(asMapOrNil(rule)["applyServerSideEncryptionByDefaults"])
				for _, d := range defs {
					if s, _ := asString(asMapOrNil(d)["sseAlgorithm"]); s != "" {
						return true
					}
				}
			}
		}
	}
	return false
}

func asMapOrNil(v any) map[string]any {
	m, _ := asMap(v)
	return m
}

func awsKMSRotation() Rule {
	return Rule{
		Name:        "aws-kms-rotation",
		Description: "Symmetric KMS keys have automatic key rotation enabled.",
		Provider:    "aws",
		Level:       Advisory,
		Check: func(r Resource, _ Config) []Violation {
			if r.Type != awsKMSKey {
				return nil
			}
			p := r.Properties
			// Rotation only exists for symmetric encryption keys in AWS-managed key material.
			if s, ok := asString(p["customerMasterKeySpec"]); ok && s != "" && s != "SYMMETRIC_DEFAULT" {
				return nil
			}
			if s, ok := asString(p["keyUsage"]); ok && s != "" && s != "ENCRYPT_DECRYPT" {
				return nil
			}
			for _, f := range []string{"customKeyStoreId", "xksKeyId"} {
				if v, ok := p[f]; ok && v != nil && v != "" {
					return nil
				}
			}
			v := p["enableKeyRotation"]
			if IsUnknown(v) {
				return nil
			}
			if b, ok := asBool(v); ok && b {
				return nil
			}
			return []Violation{{
				Message:     "enableKeyRotation is not true.",
				Remediation: "set enableKeyRotation to true (optionally rotationPeriodInDays, 90-2560).",
			}}
		},
	}
}

func awsSGNoAdminIngress() Rule {
	return Rule{
		Name:        "aws-sg-no-admin-ingress",
		Description: "Security groups do not allow ingress from 0.0.0.0/0 or ::/0 to administrative ports (SSH 22, RDP 3389).",
		Provider:    "aws",
		Level:       Mandatory,
		Properties: []Property{{
			Name: "adminPorts", Type: "array", Items: "integer",
			Description: "ports that must not be open to the whole internet",
			Default:     []any{float64(22), float64(3389)},
		}},
		Check: func(r Resource, cfg Config) []Violation {
			ports := cfg.Numbers("adminPorts")
			p := r.Properties
			var vs []Violation
			switch r.Type {
			case awsSecurityGroup:
				rules, _ := asSlice(p["ingress"])
				for i, e := range rules {
					m, ok := asMap(e)
					if !ok {
						continue
					}
					vs = append(vs, openIngress(fmt.Sprintf("ingress[%d]", i), m["protocol"], m["fromPort"], m["toPort"],
						cidrField{fmt.Sprintf("ingress[%d].cidrBlocks", i), m["cidrBlocks"]},
						cidrField{fmt.Sprintf("ingress[%d].ipv6CidrBlocks", i), m["ipv6CidrBlocks"]},
						ports)...)
				}
			case awsSecurityGroupRule:
				if t, _ := asString(p["type"]); t != "ingress" {
					return nil
				}
				vs = openIngress("rule", p["protocol"], p["fromPort"], p["toPort"],
					cidrField{"cidrBlocks", p["cidrBlocks"]}, cidrField{"ipv6CidrBlocks", p["ipv6CidrBlocks"]}, ports)
			case awsSGIngressRule:
				vs = openIngress("rule", p["ipProtocol"], p["fromPort"], p["toPort"],
					cidrField{"cidrIpv4", p["cidrIpv4"]}, cidrField{"cidrIpv6", p["cidrIpv6"]}, ports)
			}
			return vs
		},
	}
}

// cidrField is a property holding one CIDR or a list of them.
type cidrField struct {
	name  string
	value any
}

// openIngress reports an ingress rule whose CIDRs include a /0 and whose
// protocol and port range cover one of ports.
func openIngress(label string, protocol, fromPort, toPort any, v4, v6 cidrField, ports []float64) []Violation {
	var open []cidrField
	for _, f := range []cidrField{v4, v6} {
		cidrs, _ := stringList(f.value)
		for _, c := range cidrs {
			if strings.HasSuffix(strings.TrimSpace(c), "/0") {
				open = append(open, cidrField{f.name, c})
			}
		}
	}
	if len(open) == 0 {
		return nil
	}
	covered := coveredPorts(protocol, fromPort, toPort, ports)
	if len(covered) == 0 {
		return nil
	}
	var vs []Violation
	for _, o := range open {
		vs = append(vs, Violation{
			Message: fmt.Sprintf("%s allows %s (%s) to port(s) %s.", label, o.value, o.name, joinPorts(covered)),
			Remediation: fmt.Sprintf("restrict %s to known administrative CIDRs, or reach hosts through SSM Session "+
				"Manager or a bastion instead of opening %s.", o.name, joinPorts(covered)),
		})
	}
	return vs
}

// coveredPorts returns the ports of ports inside the rule's protocol and
// port range. Protocol "-1"/"all" covers every port, ICMP none; unknown
// values cover none (undecidable).
func coveredPorts(protocol, fromPort, toPort any, ports []float64) []float64 {
	if IsUnknown(protocol) || IsUnknown(fromPort) || IsUnknown(toPort) {
		return nil
	}
	proto, _ := asString(protocol)
	if n, ok := asNumber(protocol); ok && !isString(protocol) {
		proto = strconv.Itoa(int(n))
	}
	proto = strings.ToLower(strings.TrimSpace(proto))
	lo, hi := 0.0, 65535.0
	switch proto {
	case "icmp", "icmpv6", "1", "58":
		return nil
	case "-1", "all":
	default:
		if n, ok := asNumber(fromPort); ok {
			lo = n
		}
		if n, ok := asNumber(toPort); ok {
			hi = n
		}
	}
	var out []float64
	for _, p := range ports {
		if p >= lo && p <= hi {
			out = append(out, p)
		}
	}
	return out
}

func isString(v any) bool {
	_, ok := v.(string)
	return ok
}

func joinPorts(ports []float64) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ", ")
}

func awsIAMNoStar() Rule {
	return Rule{
		Name:        "aws-iam-no-star",
		Description: "IAM policies do not Allow Action \"*\" on Resource \"*\".",
		Provider:    "aws",
		Level:       Mandatory,
		Check: func(r Resource, _ Config) []Violation {
			switch {
			case awsIAMPolicyTypes[r.Type]:
				return starStatements("policy", r.Properties["policy"])
			case r.Type == awsIAMRole:
				var vs []Violation
				inline, _ := asSlice(r.Properties["inlinePolicies"])
				for i, e := range inline {
					m, ok := asMap(e)
					if !ok {
						continue
					}
					vs = append(vs, starStatements(fmt.Sprintf("inlinePolicies[%d].policy", i), m["policy"])...)
				}
				return vs
			}
			return nil
		},
	}
}

// starStatements reports the Allow statements of a policy document (a JSON
// string or an object) with Action "*" (or "*:*") and Resource "*".
func starStatements(field string, doc any) []Violation {
	if IsUnknown(doc) {
		return nil
	}
	m, ok := jsonObject(doc)
	if !ok {
		return nil // not a parseable document; the provider rejects it
	}
	var stmts []any
	switch s := m["Statement"].(type) {
	case []any:
		stmts = s
	case map[string]any:
		stmts = []any{s}
	}
	var vs []Violation
	for i, e := range stmts {
		st, ok := asMap(e)
		if !ok {
			continue
		}
		if eff, _ := asString(st["Effect"]); !strings.EqualFold(eff, "Allow") {
			continue
		}
		actions, _ := stringList(st["Action"])
		resources, _ := stringList(st["Resource"])
		if !containsAny(actions, "*", "*:*") || !containsAny(resources, "*") {
			continue
		}
		label := fmt.Sprintf("statement %d", i)
		if sid, _ := asString(st["Sid"]); sid != "" {
			label += fmt.Sprintf(" (Sid %q)", sid)
		}
		vs = append(vs, Violation{
			Message: fmt.Sprintf("%s %s allows Action \"*\" on Resource \"*\" (full administrator access).", field, label),
			Remediation: fmt.Sprintf("replace Action \"*\" and Resource \"*\" in %s %s with the specific actions and "+
				"resource ARNs the principal needs.", field, label),
		})
	}
	return vs
}

func containsAny(list []string, want ...string) bool {
	for _, s := range list {
		for _, w := range want {
			if strings.TrimSpace(s) == w {
				return true
			}
		}
	}
	return false
}

func awsAllowedRegions() Rule {
	return Rule{
		Name:        "aws-allowed-regions",
		Description: "AWS providers deploy only to allowed regions.",
		Provider:    "aws",
		Level:       Advisory,
		Properties: []Property{{
			Name: "allowedRegions", Type: "array", Items: "string",
			Description: "AWS regions providers may target",
			Default:     stringsDefault("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1"),
		}},
		Check: func(r Resource, cfg Config) []Violation {
			if r.Type != awsProvider {
				return nil
			}
			region, ok := asString(r.Properties["region"])
			if !ok || region == "" {
				return nil // unset (taken from the environment) or unknown: undecidable
			}
			allowed := cfg.Strings("allowedRegions")
			for _, a := range allowed {
				if strings.EqualFold(a, region) {
					return nil
				}
			}
			return []Violation{{
				Message: fmt.Sprintf("provider region %q is not an allowed region (%s).", region, quoteList(allowed)),
				Remediation: "set the provider's region (stack config aws:region, or the region argument of an explicit " +
					"aws.Provider) to an allowed region, or add the region to allowedRegions in the policy config.",
			}}
		},
	}
}
