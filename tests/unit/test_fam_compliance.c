#include "famtest.h"
int main(void){return 0;}
