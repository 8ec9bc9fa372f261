//! The shape of an SDK's table: each row one rule of a default client (its
//! chain order, the region variables it reads, what it does with partial
//! keys...), the words that say it, and the source file or document and the
//! SDK version it was read from. The tables are data; `predict` reads them.

use serde::Serialize;

/// An SDK family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sdk {
    /// The AWS SDK for Rust: the canary itself.
    Rust,
    /// botocore (boto3) and AWS CLI v1.
    Python,
    /// The AWS SDK for JavaScript v3 in Node.js.
    Js,
    /// The AWS SDK for Go v2.
    Go,
    /// The AWS SDK for Java 2.x.
    Java,
    /// The AWS SDK for .NET.
    Dotnet,
}

impl Sdk {
    /// Every family, in the order `doctor` shows them.
    pub const ALL: [Sdk; 6] = [
        Sdk::Rust,
        Sdk::Python,
        Sdk::Js,
        Sdk::Go,
        Sdk::Java,
        Sdk::Dotnet,
    ];

    /// The name `--sdk` takes and the JSON shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Sdk::Rust => "rust",
            Sdk::Python => "python",
            Sdk::Js => "js",
            Sdk::Go => "go",
            Sdk::Java => "java",
            Sdk::Dotnet => "dotnet",
        }
    }

    /// Parses a `--sdk` name (or a common alias: boto3, cli, node, ...).
    pub fn parse(name: &str) -> Result<Sdk, String> {
        let n = name.trim().to_ascii_lowercase();
        let sdk = match n.as_str() {
            "rust" | "canary" => Sdk::Rust,
            "python" | "boto3" | "botocore" | "cli" | "awscli" => Sdk::Python,
            "js" | "javascript" | "node" | "nodejs" => Sdk::Js,
            "go" | "golang" => Sdk::Go,
            "java" => Sdk::Java,
            "dotnet" | ".net" | "net" | "csharp" => Sdk::Dotnet,
            _ => {
                let names: Vec<&str> = Sdk::ALL.iter().map(|s| s.as_str()).collect();
                return Err(format!(
                    "unknown SDK \"{}\": valid names are {}",
                    crate::redact::truncate(name, 40),
                    names.join(", ")
                ));
            }
        };
        Ok(sdk)
    }
}

impl std::fmt::Display for Sdk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How `doctor` knows what the family does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The canary's own chain, walked on this host.
    Executed,
    /// Read from the SDK's source; the conformance test runs the real SDK
    /// in every situation it covers (tests/infra/sdk_conformance.py).
    SourceAndConformance,
    /// Read from the SDK's documentation and source, not executed.
    Documentation,
}

impl Basis {
    /// How the human output says it.
    pub fn words(self) -> &'static str {
        match self {
            Basis::Executed => "executed: the canary's own chain on this host",
            Basis::SourceAndConformance => {
                "from its source, checked against the real SDK by tests/infra/sdk_conformance.py"
            }
            Basis::Documentation => "from documentation, not executed",
        }
    }
}

/// A credential source of a default chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    Environment,
    /// The selected profile, only when it assumes a role (`role_arn`).
    AssumeRoleProfile,
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` with `AWS_ROLE_ARN`.
    WebIdentityEnv,
    /// The selected profile: keys, a role, `credential_process`, SSO, a
    /// web identity token file.
    Profile,
    /// The ECS or EKS container endpoint.
    Container,
    /// EC2 instance metadata.
    InstanceMetadata,
}

/// Where a profile's `region` may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionFiles {
    /// The config file only.
    ConfigOnly,
    /// The credentials file first, then the config file.
    CredentialsFirst,
    /// The config file first, then the credentials file.
    ConfigFirst,
}

/// What a client does at a source that is set up wrong: stop with the
/// SDK's own message (`{var}`, `{profile}` and `{path}` filled in), or
/// move on to the next source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnBad {
    /// Stops the chain with this message.
    Stop(&'static str),
    /// Moves on to the next source.
    Skip,
}

/// Which check stops a client first when both would.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum First {
    /// Credentials are resolved before the region is needed.
    Credentials,
    /// The region is needed before credentials are resolved.
    Region,
}

/// One rule of a default client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", content = "value", rename_all = "snake_case")]
pub enum Rule {
    /// The credential chain, in order.
    Chain(&'static [Source]),
    /// The region variables, in order.
    RegionVariables(&'static [&'static str]),
    /// Where the profile's `region` is read.
    RegionFiles(RegionFiles),
    /// The message when no region is found.
    NoRegion(&'static str),
    /// Whether `AWS_PROFILE` makes the client skip the environment's keys.
    ProfileSkipsEnvironment(bool),
    /// `AWS_ACCESS_KEY_ID` is set without `AWS_SECRET_ACCESS_KEY`.
    PartialKeys(OnBad),
    /// `AWS_SECRET_ACCESS_KEY` is set without `AWS_ACCESS_KEY_ID`.
    SecretWithoutKey(OnBad),
    /// `AWS_PROFILE` names a profile in neither file.
    MissingProfile(OnBad),
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` names a file that is not there.
    MissingTokenFile(OnBad),
    /// The message when no source supplies credentials.
    NoCredentials(&'static str),
    /// Which check stops the client first.
    FirstStop(First),
    /// Whether finding no credentials at all stops the client only when
    /// the request is signed, after the region is needed.
    NoCredentialsAtCall(bool),
    /// The variables and profile keys that choose the trusted roots.
    TrustRoots(&'static [&'static str]),
    /// The endpoint override variables and profile keys it honours.
    Endpoints(&'static [&'static str]),
    /// Whether it reads ~/.aws/config without being asked (`AWS_SDK_LOAD_CONFIG`
    /// was SDK for JavaScript v2's switch).
    LoadsConfigFile(bool),
    /// What it does with a `credential_process` profile (words only).
    CredentialProcess(&'static str),
    /// What it does with an SSO profile (words only).
    Sso(&'static str),
}

/// A row: the rule, and where it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The rule.
    #[serde(flatten)]
    pub rule: Rule,
    /// The source file or document, with the version it was read from.
    pub source: &'static str,
}

/// One SDK family's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Table {
    /// The family.
    pub sdk: Sdk,
    /// Its name for people ("botocore/boto3 and AWS CLI v1").
    pub name: &'static str,
    /// How its applications are called in a finding ("Python services").
    pub apps: &'static str,
    /// The package versions the rows were read from.
    pub version: &'static str,
    /// How `doctor` knows.
    pub basis: Basis,
    /// The rules.
    pub rows: &'static [Row],
}

impl Table {
    fn find<T>(&self, pick: impl Fn(&Rule) -> Option<T>) -> Option<T> {
        self.rows.iter().find_map(|r| pick(&r.rule))
    }

    /// The chain (empty when the table has none).
    pub fn chain(&self) -> &'static [Source] {
        self.find(|r| match r {
            Rule::Chain(c) => Some(*c),
            _ => None,
        })
        .unwrap_or(&[])
    }

    /// The region variables, in order.
    pub fn region_variables(&self) -> &'static [&'static str] {
        self.find(|r| match r {
            Rule::RegionVariables(v) => Some(*v),
            _ => None,
        })
        .unwrap_or(&[])
    }

    /// Where the profile's region is read.
    pub fn region_files(&self) -> RegionFiles {
        self.find(|r| match r {
            Rule::RegionFiles(f) => Some(*f),
            _ => None,
        })
        .unwrap_or(RegionFiles::ConfigOnly)
    }

    /// The no-region message.
    pub fn no_region(&self) -> &'static str {
        self.find(|r| match r {
            Rule::NoRegion(m) => Some(*m),
            _ => None,
        })
        .unwrap_or("no region")
    }

    /// Whether `AWS_PROFILE` skips the environment's keys.
    pub fn profile_skips_environment(&self) -> bool {
        self.find(|r| match r {
            Rule::ProfileSkipsEnvironment(b) => Some(*b),
            _ => None,
        })
        .unwrap_or(false)
    }

    /// Partial keys.
    pub fn partial_keys(&self) -> OnBad {
        self.find(|r| match r {
            Rule::PartialKeys(o) => Some(*o),
            _ => None,
        })
        .unwrap_or(OnBad::Skip)
    }

    /// A secret without its key id.
    pub fn secret_without_key(&self) -> OnBad {
        self.find(|r| match r {
            Rule::SecretWithoutKey(o) => Some(*o),
            _ => None,
        })
        .unwrap_or(OnBad::Skip)
    }

    /// Whether no credentials at all stops the client only at the call.
    pub fn no_credentials_at_call(&self) -> bool {
        self.find(|r| match r {
            Rule::NoCredentialsAtCall(b) => Some(*b),
            _ => None,
        })
        .unwrap_or(false)
    }

    /// A missing profile.
    pub fn missing_profile(&self) -> OnBad {
        self.find(|r| match r {
            Rule::MissingProfile(o) => Some(*o),
            _ => None,
        })
        .unwrap_or(OnBad::Skip)
    }

    /// A missing token file.
    pub fn missing_token_file(&self) -> OnBad {
        self.find(|r| match r {
            Rule::MissingTokenFile(o) => Some(*o),
            _ => None,
        })
        .unwrap_or(OnBad::Skip)
    }

    /// The no-credentials message.
    pub fn no_credentials(&self) -> &'static str {
        self.find(|r| match r {
            Rule::NoCredentials(m) => Some(*m),
            _ => None,
        })
        .unwrap_or("no credentials")
    }

    /// Which check stops first.
    pub fn first_stop(&self) -> First {
        self.find(|r| match r {
            Rule::FirstStop(f) => Some(*f),
            _ => None,
        })
        .unwrap_or(First::Credentials)
    }

    /// Trust-root variables and keys.
    pub fn trust_roots(&self) -> &'static [&'static str] {
        self.find(|r| match r {
            Rule::TrustRoots(v) => Some(*v),
            _ => None,
        })
        .unwrap_or(&[])
    }

    /// Endpoint variables and keys.
    pub fn endpoints(&self) -> &'static [&'static str] {
        self.find(|r| match r {
            Rule::Endpoints(v) => Some(*v),
            _ => None,
        })
        .unwrap_or(&[])
    }
}
