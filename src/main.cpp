#include "cli/app.h"

int main(int argc, char** argv) {
  return atls::cli::run(argc, argv);
}
