//! The AWS SDK for Java 2.x, from its source on GitHub (aws/aws-sdk-java-v2,
//! the commits named in each row): not executed.

use super::table::{Basis, First, OnBad, RegionFiles, Row, Rule, Sdk, Source, Table};

/// The table.
pub const TABLE: Table = Table {
    sdk: Sdk::Java,
    name: "AWS SDK for Java 2.x",
    apps: "Java services (SDK 2.x)",
    version: "aws-sdk-java-v2 (commits 0131c082, 07ca27cb)",
    basis: Basis::Documentation,
    rows: &[
        Row {
            rule: Rule::Chain(&[
                Source::Environment,
                Source::WebIdentityEnv,
                Source::Profile,
                Source::Container,
                Source::InstanceMetadata,
            ]),
            source: "aws-sdk-java-v2 core/auth/.../DefaultCredentialsProvider.java@0131c082: system properties (aws.accessKeyId), environment, web identity, profile, container, instance profile",
        },
        Row {
            rule: Rule::RegionVariables(&["AWS_REGION"]),
            source: "aws-sdk-java-v2 core/regions/.../DefaultAwsRegionProviderChain.java@07ca27cb: aws.region, AWS_REGION, profile, instance metadata (no AWS_DEFAULT_REGION)",
        },
        Row {
            rule: Rule::RegionFiles(RegionFiles::ConfigFirst),
            source: "aws-sdk-java-v2 DefaultAwsRegionProviderChain.java@07ca27cb (\"~/.aws/credentials and ~/.aws/config\")",
        },
        Row {
            rule: Rule::NoRegion("Unable to load region from any of the providers in the chain"),
            source: "aws-sdk-java-v2 core/regions/.../AwsRegionProviderChain.java",
        },
        Row {
            rule: Rule::ProfileSkipsEnvironment(false),
            source: "aws-sdk-java-v2 DefaultCredentialsProvider.java@0131c082 (environment before profile)",
        },
        Row {
            rule: Rule::PartialKeys(OnBad::Skip),
            source: "aws-sdk-java-v2 EnvironmentVariableCredentialsProvider throws; AwsCredentialsProviderChain moves on",
        },
        Row {
            rule: Rule::MissingProfile(OnBad::Skip),
            source: "aws-sdk-java-v2 ProfileCredentialsProvider throws; AwsCredentialsProviderChain moves on",
        },
        Row {
            rule: Rule::MissingTokenFile(OnBad::Skip),
            source: "aws-sdk-java-v2 WebIdentityTokenFileCredentialsProvider throws; AwsCredentialsProviderChain moves on",
        },
        Row {
            rule: Rule::NoCredentials("Unable to load credentials from any of the providers in the chain"),
            source: "aws-sdk-java-v2 core/auth/.../AwsCredentialsProviderChain.java",
        },
        Row {
            rule: Rule::FirstStop(First::Region),
            source: "aws-sdk-java-v2: the region is resolved when the client is built",
        },
        Row {
            rule: Rule::TrustRoots(&["javax.net.ssl.trustStore"]),
            source: "aws-sdk-java-v2 http-clients (Apache, Netty) use the JVM's trust store; no AWS_CA_BUNDLE",
        },
        Row {
            rule: Rule::Endpoints(&[
                "AWS_ENDPOINT_URL",
                "AWS_ENDPOINT_URL_<SERVICE>",
                "endpoint_url",
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
            ]),
            source: "AWS SDKs and Tools Reference Guide, \"Service-specific endpoints\" (Java 2.x supports them)",
        },
        Row {
            rule: Rule::LoadsConfigFile(true),
            source: "aws-sdk-java-v2 ProfileFile.defaultProfileFile() (always)",
        },
        Row {
            rule: Rule::CredentialProcess("the profile provider runs it"),
            source: "aws-sdk-java-v2 ProcessCredentialsProvider",
        },
        Row {
            rule: Rule::Sso("the profile provider uses the cached SSO token (needs the sso module on the classpath)"),
            source: "aws-sdk-java-v2 services/sso SsoProfileCredentialsProviderFactory",
        },
    ],
};
