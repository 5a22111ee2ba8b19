#include <cstdio>
int main() { std::puts("socd"); return 0; }
