/**
 * What Helm's loader makes of an unquoted scalar in a string field of Chart.yaml. It reads the
 * file with sigs.k8s.io/yaml: Go's yaml.v2 first types plain scalars (YAML 1.1: `yes` is a
 * boolean, `0777` an octal integer, `1.10` a float), then each number or boolean bound for a
 * string field is printed back with Go's `strconv` (`FormatInt`, `FormatFloat(v, 'g', -1, 32)`,
 * `true`/`false`). So `version: 1.10` is "1.1" to Helm and `appVersion: 2.0` is "2": the reason
 * Helm's own charts quote them. Timestamps stay as written.
 */
import { yamlBoolean } from './yaml';

const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const INFINITY = /^[-+]?\.(inf|Inf|INF)$/;
const NAN = /^\.(nan|NaN|NAN)$/;
// yaml.v2 tries a timestamp before a number (and then keeps the text).
const TIMESTAMP = /^\d{4}-\d{1,2}-\d{1,2}([Tt ]\d{1,2}:\d{1,2}:\d{1,2}(\.\d+)?([Zz]|[-+]\d{1,2}(:\d{2})?)?)?$/;
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** The string Helm's loader puts in a string field for this plain scalar. */
export function goPlainScalar(text: string): string {
  const bool = yamlBoolean(text);
  if (bool !== undefined) {
    return String(bool);
  }
  if (INFINITY.test(text)) {
    return text.startsWith('-') ? '-Inf' : '+Inf';
  }
  if (NAN.test(text)) {
    return 'NaN';
  }
  if (!/^[-+.0-9]/.test(text) || TIMESTAMP.test(text)) {
    return text;
  }
  const plain = text.replace(/_/g, '');
  const int = goParseInt(plain);
  if (int !== undefined) {
    return int.toString();
  }
  if (YAML_STYLE_FLOAT.test(plain)) {
    return formatFloat32(Number(plain));
  }
  // yaml.v2's own binary form with a sign.
  const binary = /^([-+]?)0b([01]+)$/.exec(plain);
  if (binary) {
    return (BigInt(`0b${binary[2]}`) * (binary[1] === '-' ? -1n : 1n)).toString();
  }
  return text;
}

/** Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint(s, 0, 64)`: undefined when neither takes it. */
function goParseInt(s: string): bigint | undefined {
  const m = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) {
    return undefined;
  }
  const digits = m[2];
  let magnitude: bigint;
  if (/^0[xXoObB]/.test(digits)) {
    magnitude = BigInt(digits.replace(/^0[oO]/, '0o').toLowerCase());
  } else if (digits.length > 1 && digits.startsWith('0')) {
    magnitude = BigInt(`0o${digits.slice(1)}`);
  } else {
    magnitude = BigInt(digits);
  }
  const value = m[1] === '-' ? -magnitude : magnitude;
  if (value >= -INT64_MAX - 1n && value <= INT64_MAX) {
    return value;
  }
  return m[1] !== '-' && value <= UINT64_MAX ? value : undefined;
}

/** Go's `strconv.FormatFloat(v, 'g', -1, 32)`: the shortest float32 digits, %e beyond exponent 6 or below -4. */
export function formatFloat32(v: number): string {
  const f = Math.fround(v);
  if (Number.isNaN(f)) {
    return 'NaN';
  }
  if (!Number.isFinite(f)) {
    return f > 0 ? '+Inf' : '-Inf';
  }
  if (f === 0) {
    return Object.is(f, -0) ? '-0' : '0';
  }
  const abs = Math.abs(f);
  let digits = '';
  let exp = 0;
  for (let p = 1; p <= 9; p++) {
    const s = abs.toExponential(p - 1);
    if (Math.fround(Number(s)) === abs) {
      const [mantissa, e] = s.split('e');
      digits = mantissa.replace('.', '').replace(/0+$/, '') || '0';
      exp = Number(e);
      break;
    }
  }
  const sign = f < 0 ? '-' : '';
  if (exp < -4 || exp >= 6) {
    const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (exp < 0) {
    return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  }
  const whole = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  const fraction = digits.slice(exp + 1);
  return `${sign}${whole}${fraction ? `.${fraction}` : ''}`;
}
