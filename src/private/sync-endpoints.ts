import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

/** The VPC endpoints the sync function needs, reachable on 443 from the function only. */
export class SyncEndpoints extends Construct {
  private readonly securityGroup: ec2.SecurityGroup;

  constructor(
    scope: Construct,
    id: string,
    fn: lambda.Function,
    private readonly vpc: ec2.IVpc,
    private readonly subnets: ec2.SubnetSelection | undefined,
  ) {
    super(scope, id);
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: 'VPC endpoints of the ImageSync function: HTTPS from the function only',
      allowAllOutbound: false,
    });
    this.securityGroup.connections.allowFrom(fn, ec2.Port.tcp(443), 'HTTPS from the ImageSync function');
    this.add('EcrApi', ec2.InterfaceVpcEndpointAwsService.ECR);
    this.add('EcrDkr', ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER);
    this.add('Sts', ec2.InterfaceVpcEndpointAwsService.STS);
    // ECR serves layers from S3: the gateway endpoint adds a route to the subnets' route tables.
    new ec2.GatewayVpcEndpoint(this, 'S3', {
      vpc,
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: subnets ? [subnets] : undefined,
    });
  }

  public add(id: string, service: ec2.IInterfaceVpcEndpointService): void {
    if (this.node.tryFindChild(id)) {
      return;
    }
    new ec2.InterfaceVpcEndpoint(this, id, {
      vpc: this.vpc,
      service,
      subnets: this.subnets,
      securityGroups: [this.securityGroup],
      privateDnsEnabled: true,
      open: false,
    });
  }
}
