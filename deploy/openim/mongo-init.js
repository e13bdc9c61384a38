// Runs once, when the mongo container initialises an empty data volume
// (/docker-entrypoint-initdb.d, executed by mongosh as the root user against
// MONGO_INITDB_DATABASE). Creates the user OpenIM logs in with: its
// config/mongodb.yml has database openim_v3 and authSource openim_v3, and
// openimsdk/openim-docker creates the same user from its compose command.
const user = process.env.MONGO_OPENIM_USERNAME;
const pwd = process.env.MONGO_OPENIM_PASSWORD;
if (!user || !pwd) {
  throw new Error("MONGO_OPENIM_USERNAME and MONGO_OPENIM_PASSWORD must be set");
}
if (db.getUser(user)) {
  print(`user ${user} already exists in ${db.getName()}`);
} else {
  db.createUser({ user: user, pwd: pwd, roles: [{ role: "readWrite", db: db.getName() }] });
  print(`created user ${user} in ${db.getName()}`);
}
