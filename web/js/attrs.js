// Attribute names the console offers in its pick lists: the directory's user fields with
// the display names of the seed (SPEC §2), the target attribute aliases (SPEC §4), the
// filter operators, and the default Code42 mapping (the seed's two tables, in order).

/** Directory user fields: [api field, display name]. */
export const USER_FIELDS = [
  ['username', 'Username'],
  ['name.given', 'Given Name'],
  ['name.family', 'Family Name'],
  ['name.formatted', 'Formatted'],
  ['nickname', 'Nickname'],
  ['title', 'Title'],
  ['type', 'Type'],
  ['email', 'Email Address'],
  ['primaryPhone', 'Primary Phone'],
  ['externalId', 'External ID'],
  ['address.streetAddress', 'Street Address'],
  ['address.locality', 'Locality'],
  ['address.region', 'Region'],
  ['address.postalCode', 'Postal Code'],
  ['address.countryCode', 'Country Code'],
  ['enabled', 'Enabled'],
  ['id', 'User ID'],
];

/** Filter attributes: population and group first, then the user fields. */
export const FILTER_ATTRIBUTES = [
  ['population.name', 'Population Name'],
  ['group', 'Group'],
  ...USER_FIELDS.filter(([f]) => f !== 'id'),
];

/** Mapping sources: the user fields plus the population's name. */
export const SOURCE_ATTRIBUTES = [...USER_FIELDS, ['population.name', 'Population Name']];

/** Display name of a directory attribute (or the text itself, e.g. an expression). */
export function displayName(attr) {
  const f = SOURCE_ATTRIBUTES.find(([a]) => a === attr) || FILTER_ATTRIBUTES.find(([a]) => a === attr);
  return f ? f[1] : attr;
}

/** The directory attribute whose display name (or field name) is text, else null. */
export function attributeFromText(text) {
  const t = (text || '').trim();
  const f = SOURCE_ATTRIBUTES.find(([a, d]) => a === t || d.toLowerCase() === t.toLowerCase());
  return f ? f[0] : null;
}

/** Target attribute aliases of SPEC §4 (any SCIM path is accepted too). */
export const TARGET_ATTRIBUTES = [
  'userName', 'givenName', 'familyName', 'formattedName', 'nickName', 'title', 'userType',
  'externalId', 'active', 'workEmail', 'workPhone', 'workStreetAddress', 'workStreetAddeess', 'workCity', 'workState',
  'workPostalCode', 'workCountry', 'department', 'division', 'manager', 'employeeNumber',
  'costCenter', 'organization',
];

/** The seed's default Code42 mapping: [target, source], first table then the second. */
export const DEFAULT_MAPPING = [
  ['userName', 'username'],
  ['givenName', 'name.given'],
  ['familyName', 'name.family'],
  ['workPhone', 'primaryPhone'],
  ['workEmail', 'email'],
  ['externalId', 'externalId'],
  ['workCity', 'address.locality'],
  ['workStreetAddeess', 'address.streetAddress'],
  ['workCountry', 'address.countryCode'],
  ['workPostalCode', 'address.postalCode'],
  ['userType', 'type'],
  ['title', 'title'],
  ['nickName', 'nickname'],
  ['formattedName', 'name.formatted'],
].map(([target, source]) => ({ target, source }));

/** Filter operators: [api value, label, needs a value]. */
export const OPERATORS = [
  ['EQUALS', 'Equals', true],
  ['NOT_EQUALS', 'Does not equal', true],
  ['STARTS_WITH', 'Starts with', true],
  ['ENDS_WITH', 'Ends with', true],
  ['CONTAINS', 'Contains', true],
  ['IN', 'Is one of (comma separated)', true],
  ['IS_NULL', 'Is empty', false],
  ['IS_NOT_NULL', 'Is not empty', false],
  ['MATCHES', 'Matches (regular expression)', true],
];

export function operatorLabel(op) {
  const o = OPERATORS.find(([v]) => v === op);
  return o ? o[1] : op;
}

export function operatorNeedsValue(op) {
  const o = OPERATORS.find(([v]) => v === op);
  return o ? o[2] : true;
}

/** Authentication methods: [api value, label]. */
export const AUTH_METHODS = [
  ['OAUTH2_BEARER', 'OAuth 2 Bearer Token'],
  ['BASIC', 'Basic'],
  ['OAUTH2_CLIENT_CREDENTIALS', 'OAuth 2 Client Credentials'],
  ['NONE', 'None'],
];

export function authLabel(m) {
  const a = AUTH_METHODS.find(([v]) => v === m);
  return a ? a[1] : m;
}
