"""infra/: the CloudFormation template generated from the bus definition and the lake schema,
and the change-set deploy that stands it up."""
